using static Kindling.Vmm.Devices.Legacy.Uart8250Registers;

namespace Kindling.Vmm.Devices.Legacy;

/// <summary>
/// A 16550A-compatible UART as a register state machine (no timing): enough for Linux's 8250 driver (autoconfig
/// incl. the loopback and scratch tests, FIFO detection, interrupt-driven TX/RX) and earlyprintk polling.
/// Transmitted bytes go to an <see cref="ISerialOutput"/>; when it refuses a byte the UART queues up to
/// <see cref="TxHoldCapacity"/> bytes and keeps LSR.THRE/TEMT clear until <see cref="ISerialOutput.Writable"/>
/// drains the queue. Received bytes come from the host through <see cref="EnqueueInput"/> into a bounded queue.
/// </summary>
/// <remarks>
/// The hold queue is deliberately larger than the 16550's 16-byte FIFO: guests do not all wait for THRE before
/// every byte. Linux's console writes after a 10 ms THRE timeout per character, and a guest may emit a block with
/// one <c>rep outsb</c> after one THRE check (KVM delivers string OUTs one byte per exit, so nothing can refuse
/// part of it). A page of hold room absorbs both while the host sink is held back, until it drains or spills
/// (the FIFO sink spills after a bound): Kindling never drops guest output a THRE-respecting guest wrote.
/// </remarks>
public sealed partial class Serial8250 : IBusDevice, IDisposable
{
    /// <summary>Divisor for 9600 baud from the 1.8432 MHz clock, the reset value.</summary>
    public const ushort DefaultBaudDivisor = 12;

    /// <summary>DCD, DSR and CTS asserted: a cable with a ready peer, as vm-superio's default.</summary>
    public const byte DefaultModemStatus = MsrDcd | MsrDsr | MsrCts;

    /// <summary>Default bound of the host-fed receive queue.</summary>
    public const int DefaultInputCapacity = 64;

    /// <summary>Bytes held while the sink refuses: one page, the most a guest writes per THRE check.</summary>
    public const int TxHoldCapacity = 4096;

    private readonly object _gate = new();
    private readonly IInterruptTrigger _interrupt;
    private readonly ISerialOutput _output;
    private readonly Queue<byte> _rx = new();
    private readonly Queue<byte> _txPending = new();
    private readonly int _inputCapacity;

    private byte _ier;
    private byte _lcr = LcrWlen8;
    private byte _mcr = McrOut2;
    private byte _lsr = LsrThre | LsrTemt;
    private byte _msr = DefaultModemStatus;
    private byte _scr;
    private byte _fcr;
    private ushort _divisor = DefaultBaudDivisor;
    private bool _thrEmptyInterrupt;
    private bool _inputWasFull;
    private long _droppedTxBytes;

    public Serial8250(IInterruptTrigger interrupt, ISerialOutput output, int inputCapacity = DefaultInputCapacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputCapacity, 1);
        _interrupt = interrupt;
        _output = output;
        _inputCapacity = inputCapacity;
        _output.Writable += OnOutputWritable;
    }

    /// <summary>Raised (outside the device lock) when the guest has read from a receive queue that was full.</summary>
    public event Action? InputSpaceAvailable;

    /// <summary>The divisor latch (DLM:DLL) the guest programmed.</summary>
    public ushort BaudDivisor
    {
        get
        {
            lock (_gate)
            {
                return _divisor;
            }
        }
    }

    /// <summary>Bytes the guest wrote while both the sink and the hold queue were full (lost).</summary>
    public long DroppedTxBytes => Interlocked.Read(ref _droppedTxBytes);

    /// <summary>Free space in the receive queue.</summary>
    public int InputSpace
    {
        get
        {
            lock (_gate)
            {
                return _inputCapacity - _rx.Count;
            }
        }
    }

    /// <summary>
    /// Offers host input (stdin) to the guest. Returns how many bytes were taken: the rest must be offered again
    /// after <see cref="InputSpaceAvailable"/>. Raises the receive interrupt when enabled.
    /// </summary>
    public int EnqueueInput(ReadOnlySpan<byte> data)
    {
        bool trigger;
        int taken = 0;
        lock (_gate)
        {
            if (Loopback)
            {
                // In loopback the receiver is wired to the transmitter, not to the outside world.
                _inputWasFull = data.Length > 0;
                return 0;
            }

            while (taken < data.Length && _rx.Count < _inputCapacity)
            {
                _rx.Enqueue(data[taken++]);
            }

            if (taken < data.Length)
            {
                _inputWasFull = true;
            }

            UpdateDataReady();
            trigger = taken > 0 && ReceiveDataAvailable();
        }

        if (trigger)
        {
            _interrupt.Trigger();
        }

        return taken;
    }

    public void Read(ulong offset, Span<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        bool spaceFreed = false;
        byte value;
        lock (_gate)
        {
            value = ReadRegister(offset, ref spaceFreed);
        }

        data.Clear();
        data[0] = value;
        if (spaceFreed)
        {
            InputSpaceAvailable?.Invoke();
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        bool trigger;
        lock (_gate)
        {
            trigger = WriteRegister(offset, data[0]);
        }

        if (trigger)
        {
            _interrupt.Trigger();
        }
    }

    public void Dispose() => _output.Writable -= OnOutputWritable;

    private bool Loopback => (_mcr & McrLoop) != 0;

    private bool Dlab => (_lcr & LcrDlab) != 0;

    private byte ReadRegister(ulong offset, ref bool spaceFreed)
    {
        switch (offset)
        {
            case Data when Dlab:
                return (byte)_divisor;
            case Data:
                return ReadReceiveBuffer(ref spaceFreed);
            case InterruptEnable when Dlab:
                return (byte)(_divisor >> 8);
            case InterruptEnable:
                return _ier;
            case InterruptIdentification:
                return ReadInterruptIdentification();
            case LineControl:
                return _lcr;
            case ModemControl:
                return _mcr;
            case LineStatus:
                byte lsr = _lsr;
                _lsr &= unchecked((byte)~LsrErrorBits); // reading LSR clears the error bits
                return lsr;
            case ModemStatus:
                byte msr = Loopback ? LoopbackModemStatus() : _msr;
                _msr &= unchecked((byte)~MsrDeltaMask); // reading MSR clears the delta bits
                return msr;
            case Scratch:
                return _scr;
            default:
                return 0;
        }
    }

    private byte ReadReceiveBuffer(ref bool spaceFreed)
    {
        if (!_rx.TryDequeue(out byte value))
        {
            return 0;
        }

        if (_rx.Count == 0)
        {
            _lsr &= unchecked((byte)~LsrDr);
        }

        if (_inputWasFull)
        {
            _inputWasFull = false;
            spaceFreed = true;
        }

        UpdateDataReady();
        return value;
    }

    private byte ReadInterruptIdentification()
    {
        byte fifoBits = (_fcr & FcrEnableFifo) != 0 ? IirFifoEnabled : (byte)0;
        byte id = PendingInterrupt();
        if (id == IirThri)
        {
            // Reading IIR while it reports THRE acknowledges that interrupt (8250 semantics).
            _thrEmptyInterrupt = false;
        }

        return (byte)(id | fifoBits);
    }

    /// <summary>The highest-priority enabled cause (RLS > RDA > THRE > MS), or IirNoInt.</summary>
    private byte PendingInterrupt()
    {
        if ((_ier & IerRlsi) != 0 && (_lsr & LsrErrorBits) != 0)
        {
            return IirRlsi;
        }

        if (ReceiveDataAvailable())
        {
            return IirRdi;
        }

        if ((_ier & IerThri) != 0 && _thrEmptyInterrupt)
        {
            return IirThri;
        }

        if ((_ier & IerMsi) != 0 && (_msr & MsrDeltaMask) != 0)
        {
            return IirMsi;
        }

        return IirNoInt;
    }

    private bool ReceiveDataAvailable() => (_ier & IerRdi) != 0 && _rx.Count > 0;

    /// <summary>Applies a register write; true when an interrupt should be raised.</summary>
    private bool WriteRegister(ulong offset, byte value)
    {
        switch (offset)
        {
            case Data when Dlab:
                _divisor = (ushort)((_divisor & 0xff00) | value);
                return false;
            case Data:
                return Transmit(value);
            case InterruptEnable when Dlab:
                _divisor = (ushort)((_divisor & 0x00ff) | (value << 8));
                return false;
            case InterruptEnable:
                byte enabled = (byte)(value & IerMask & ~_ier);
                _ier = (byte)(value & IerMask);
                if ((enabled & IerThri) != 0 && (_lsr & LsrThre) != 0)
                {
                    // Enabling THRE with an empty holding register raises it at once (Linux's THRE test relies on it).
                    _thrEmptyInterrupt = true;
                }

                return enabled != 0 && PendingInterrupt() != IirNoInt;
            case InterruptIdentification:
                return WriteFifoControl(value);
            case LineControl:
                _lcr = value;
                return false;
            case ModemControl:
                return WriteModemControl(value);
            case Scratch:
                _scr = value;
                return false;
            default:
                // LSR and MSR are read-only (factory test writes are ignored).
                return false;
        }
    }

    private bool Transmit(byte value)
    {
        _thrEmptyInterrupt = false;
        if (Loopback)
        {
            if (_rx.Count < _inputCapacity)
            {
                _rx.Enqueue(value);
                _lsr |= LsrDr;
            }
            else
            {
                _lsr |= LsrOe;
            }

            _thrEmptyInterrupt = true;
            return PendingInterrupt() != IirNoInt;
        }

        if (_txPending.Count == 0 && _output.TryWrite(value))
        {
            _thrEmptyInterrupt = true;
            return (_ier & IerThri) != 0;
        }

        if (_txPending.Count < TxHoldCapacity)
        {
            _txPending.Enqueue(value);
        }
        else
        {
            Interlocked.Increment(ref _droppedTxBytes);
        }

        _lsr &= unchecked((byte)~(LsrThre | LsrTemt));
        return false;
    }

    private bool WriteFifoControl(byte value)
    {
        _fcr = (byte)(value & FcrEnableFifo);
        if ((value & FcrClearRcvr) != 0)
        {
            _rx.Clear();
            UpdateDataReady();
        }

        // FcrClearXmit: bytes already handed to the host sink cannot be recalled; queued ones are kept, because
        // dropping them would lose console output the guest already considers sent.
        return false;
    }

    private bool WriteModemControl(byte value)
    {
        byte before = Loopback ? LoopbackModemStatus() : _msr;
        _mcr = (byte)(value & McrMask);
        if (!Loopback)
        {
            return false;
        }

        // In loopback the modem inputs follow the outputs; changes set the delta bits.
        byte after = LoopbackModemStatus();
        byte changed = (byte)(before ^ after);
        byte deltas = 0;
        deltas |= (changed & MsrCts) != 0 ? MsrDcts : (byte)0;
        deltas |= (changed & MsrDsr) != 0 ? MsrDdsr : (byte)0;
        deltas |= (before & MsrRi) != 0 && (after & MsrRi) == 0 ? MsrTeri : (byte)0;
        deltas |= (changed & MsrDcd) != 0 ? MsrDdcd : (byte)0;
        _msr = (byte)((_msr & ~MsrDeltaMask) | ((_msr | deltas) & MsrDeltaMask));
        return deltas != 0 && (_ier & IerMsi) != 0;
    }

    /// <summary>MSR in loopback: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2, plus the latched delta bits.</summary>
    private byte LoopbackModemStatus()
    {
        byte status = (byte)(_msr & MsrDeltaMask);
        status |= (_mcr & McrRts) != 0 ? MsrCts : (byte)0;
        status |= (_mcr & McrDtr) != 0 ? MsrDsr : (byte)0;
        status |= (_mcr & McrOut1) != 0 ? MsrRi : (byte)0;
        status |= (_mcr & McrOut2) != 0 ? MsrDcd : (byte)0;
        return status;
    }

    private void UpdateDataReady()
    {
        if (_rx.Count > 0)
        {
            _lsr |= LsrDr;
        }
        else
        {
            _lsr &= unchecked((byte)~LsrDr);
        }
    }

    private void OnOutputWritable()
    {
        bool trigger = false;
        lock (_gate)
        {
            while (_txPending.TryPeek(out byte value) && _output.TryWrite(value))
            {
                _txPending.Dequeue();
            }

            if (_txPending.Count == 0 && (_lsr & LsrThre) == 0)
            {
                _lsr |= LsrThre | LsrTemt;
                _thrEmptyInterrupt = true;
                trigger = (_ier & IerThri) != 0;
            }
        }

        if (trigger)
        {
            _interrupt.Trigger();
        }
    }
}
