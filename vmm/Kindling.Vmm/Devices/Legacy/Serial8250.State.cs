using static Kindling.Vmm.Devices.Legacy.Uart8250Registers;

namespace Kindling.Vmm.Devices.Legacy;

public sealed partial class Serial8250
{
    /// <summary>The device state for a snapshot (the VM is paused: no vCPU writes while this runs).</summary>
    public Serial8250State SaveState()
    {
        lock (_gate)
        {
            return new Serial8250State
            {
                InterruptEnable = _ier,
                LineControl = _lcr,
                ModemControl = _mcr,
                LineStatus = _lsr,
                ModemStatus = _msr,
                Scratch = _scr,
                FifoControl = _fcr,
                BaudDivisor = _divisor,
                ThrEmptyInterruptPending = _thrEmptyInterrupt,
                ReceiveQueue = [.. _rx],
                TransmitHold = [.. _txPending],
            };
        }
    }

    /// <summary>
    /// Puts this (freshly created) UART into <paramref name="state"/>; held transmit bytes are offered to this
    /// device's sink at once, so a line the guest had half written continues where it stopped.
    /// Refuses a state this device could not have produced (queues over its bounds).
    /// </summary>
    public void RestoreState(Serial8250State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.ReceiveQueue.Length > _inputCapacity)
        {
            throw new ArgumentException($"serial state: {state.ReceiveQueue.Length} received bytes exceed the input capacity {_inputCapacity}", nameof(state));
        }

        if (state.TransmitHold.Length > TxHoldCapacity)
        {
            throw new ArgumentException($"serial state: {state.TransmitHold.Length} held bytes exceed the hold capacity {TxHoldCapacity}", nameof(state));
        }

        lock (_gate)
        {
            _ier = (byte)(state.InterruptEnable & IerMask);
            _lcr = state.LineControl;
            _mcr = (byte)(state.ModemControl & McrMask);
            _lsr = state.LineStatus;
            _msr = state.ModemStatus;
            _scr = state.Scratch;
            _fcr = (byte)(state.FifoControl & FcrEnableFifo);
            _divisor = state.BaudDivisor;
            _thrEmptyInterrupt = state.ThrEmptyInterruptPending;
            _rx.Clear();
            foreach (byte b in state.ReceiveQueue)
            {
                _rx.Enqueue(b);
            }

            _txPending.Clear();
            foreach (byte b in state.TransmitHold)
            {
                _txPending.Enqueue(b);
            }

            UpdateDataReady();
            if (_txPending.Count > 0)
            {
                _lsr &= unchecked((byte)~(LsrThre | LsrTemt));
            }
        }

        if (state.TransmitHold.Length > 0)
        {
            OnOutputWritable();
        }
    }
}
