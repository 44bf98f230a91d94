using Kindling.Vmm.Devices.Legacy;
using static Kindling.Vmm.Devices.Legacy.Uart8250Registers;

namespace Kindling.Vmm.Tests.Devices.Legacy;

public sealed class Serial8250Tests : IDisposable
{
    private readonly CountingInterrupt _irq = new();
    private readonly ControlledSerialOutput _out = new();
    private readonly Serial8250 _uart;

    public Serial8250Tests() => _uart = new Serial8250(_irq, _out, inputCapacity: 4);

    public void Dispose() => _uart.Dispose();

    private byte In(ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        _uart.Read(offset, b);
        return b[0];
    }

    private void Out(ulong offset, byte value) => _uart.Write(offset, [value]);

    [Fact]
    public void Registers_AfterReset_HaveThe16550ResetValues()
    {
        Assert.Equal(0, In(InterruptEnable));
        Assert.Equal(IirNoInt, In(InterruptIdentification));
        Assert.Equal(LcrWlen8, In(LineControl));
        Assert.Equal(McrOut2, In(ModemControl));
        Assert.Equal(LsrThre | LsrTemt, In(LineStatus));
        Assert.Equal(MsrDcd | MsrDsr | MsrCts, In(ModemStatus));
        Assert.Equal(0, In(Scratch));
        Assert.Equal(Serial8250.DefaultBaudDivisor, _uart.BaudDivisor);
    }

    [Fact]
    public void WriteThr_InterruptsDisabled_SendsTheByteWithoutInterrupt()
    {
        Out(Data, (byte)'A');

        Assert.Equal([(byte)'A'], _out.Written);
        Assert.Equal(0, _irq.Count);
        Assert.Equal(LsrThre | LsrTemt, In(LineStatus) & (LsrThre | LsrTemt));
    }

    [Fact]
    public void WriteIer_EnablingThreWithEmptyThr_RaisesThreOnceUntilIirIsRead()
    {
        Out(InterruptEnable, IerThri);

        Assert.Equal(1, _irq.Count);
        Assert.Equal(IirThri, In(InterruptIdentification));
        Assert.Equal(IirNoInt, In(InterruptIdentification)); // reading IIR acknowledged THRE
    }

    [Fact]
    public void WriteThr_ThreEnabled_TriggersAndReportsThre()
    {
        Out(InterruptEnable, IerThri);
        _ = In(InterruptIdentification);

        Out(Data, (byte)'x');

        Assert.Equal(2, _irq.Count);
        Assert.Equal(IirThri, In(InterruptIdentification));
    }

    [Fact]
    public void DivisorLatch_DlabSet_AddressesDllAndDlmNotDataAndIer()
    {
        Out(InterruptEnable, IerRdi);
        Out(LineControl, LcrDlab | LcrWlen8);
        Out(Data, 0x01);
        Out(InterruptEnable, 0x02);

        Assert.Equal(0x01, In(Data));
        Assert.Equal(0x02, In(InterruptEnable));
        Assert.Equal(0x0201, _uart.BaudDivisor);
        Assert.Empty(_out.Written);

        Out(LineControl, LcrWlen8);
        Assert.Equal(IerRdi, In(InterruptEnable));
    }

    [Fact]
    public void Scratch_WriteThenRead_RoundTrips()
    {
        Out(Scratch, 0xa5);

        Assert.Equal(0xa5, In(Scratch));
    }

    [Fact]
    public void Fcr_EnableFifo_IirReportsFifoBitsUntilDisabled()
    {
        Out(InterruptIdentification, FcrEnableFifo);
        Assert.Equal(IirFifoEnabled | IirNoInt, In(InterruptIdentification));

        Out(InterruptIdentification, 0);
        Assert.Equal(IirNoInt, In(InterruptIdentification));
    }

    [Fact]
    public void EnqueueInput_RdaEnabled_TriggersSetsDrAndDeliversInOrder()
    {
        Out(InterruptEnable, IerRdi);

        Assert.Equal(2, _uart.EnqueueInput("hi"u8));

        Assert.Equal(1, _irq.Count);
        Assert.Equal(LsrDr, In(LineStatus) & LsrDr);
        Assert.Equal(IirRdi, In(InterruptIdentification));
        Assert.Equal((byte)'h', In(Data));
        Assert.Equal((byte)'i', In(Data));
        Assert.Equal(0, In(LineStatus) & LsrDr);
        Assert.Equal(IirNoInt, In(InterruptIdentification));
    }

    [Fact]
    public void EnqueueInput_InterruptsDisabled_SetsDrWithoutInterrupt()
    {
        _uart.EnqueueInput("z"u8);

        Assert.Equal(0, _irq.Count);
        Assert.Equal(LsrDr, In(LineStatus) & LsrDr);
        Assert.Equal(IirNoInt, In(InterruptIdentification));
    }

    [Fact]
    public void EnqueueInput_MoreThanCapacity_TakesWhatFitsAndSignalsSpaceAfterAGuestRead()
    {
        int signals = 0;
        _uart.InputSpaceAvailable += () => signals++;

        Assert.Equal(4, _uart.EnqueueInput("abcdef"u8));
        Assert.Equal(0, _uart.InputSpace);
        Assert.Equal(0, signals);

        Assert.Equal((byte)'a', In(Data));

        Assert.Equal(1, signals);
        Assert.Equal(1, _uart.EnqueueInput("ef"u8));
    }

    [Fact]
    public void ReadRbr_Empty_ReturnsZero()
    {
        Assert.Equal(0, In(Data));
    }

    [Fact]
    public void Iir_RdaAndThrePending_ReportsRdaFirst()
    {
        Out(InterruptEnable, IerRdi | IerThri);
        _uart.EnqueueInput("q"u8);

        Assert.Equal(IirRdi, In(InterruptIdentification));
        _ = In(Data);
        Assert.Equal(IirThri, In(InterruptIdentification));
    }

    [Fact]
    public void Loopback_LinuxAutoconfigPattern_ReadsBack0x90InMsrHighBits()
    {
        // serial8250 autoconfig: MCR = LOOP | OUT2 | RTS, then expects (MSR & 0xf0) == 0x90.
        Out(ModemControl, McrLoop | McrOut2 | McrRts);

        Assert.Equal(0x90, In(ModemStatus) & 0xf0);
    }

    [Fact]
    public void Loopback_WriteThr_ArrivesInRbrNotAtTheSink()
    {
        Out(ModemControl, McrLoop);
        Out(Data, 0x55);

        Assert.Empty(_out.Written);
        Assert.Equal(LsrDr, In(LineStatus) & LsrDr);
        Assert.Equal(0x55, In(Data));
    }

    [Fact]
    public void Loopback_ModemLineChange_SetsDeltaRaisesMsiAndReadClears()
    {
        Out(ModemControl, McrLoop);
        _ = In(ModemStatus); // entering loopback disconnects the outside lines: clear those deltas first
        Out(InterruptEnable, IerMsi);
        int before = _irq.Count;

        Out(ModemControl, McrLoop | McrRts);

        Assert.Equal(before + 1, _irq.Count);
        Assert.Equal(IirMsi, In(InterruptIdentification));
        byte msr = In(ModemStatus);
        Assert.Equal(MsrCts | MsrDcts, msr);
        Assert.Equal(MsrCts, In(ModemStatus));
        Assert.Equal(IirNoInt, In(InterruptIdentification));
    }

    [Fact]
    public void Loopback_RxOverflow_SetsOverrunReportedOnceAndRaisesRls()
    {
        Out(ModemControl, McrLoop);
        Out(InterruptEnable, IerRlsi);
        for (int i = 0; i < 5; i++)
        {
            Out(Data, (byte)i);
        }

        Assert.Equal(IirRlsi, In(InterruptIdentification));
        Assert.Equal(LsrOe, In(LineStatus) & LsrOe);
        Assert.Equal(0, In(LineStatus) & LsrOe);
    }

    [Fact]
    public void WriteThr_SinkRefuses_ClearsThreAndTemtUntilWritableThenDeliversInOrder()
    {
        Out(InterruptEnable, IerThri);
        _ = In(InterruptIdentification);
        _out.Open = false;

        Out(Data, (byte)'1');
        Out(Data, (byte)'2');

        Assert.Equal(0, In(LineStatus) & (LsrThre | LsrTemt));
        Assert.Empty(_out.Written);
        int before = _irq.Count;

        _out.BecomeWritable();

        Assert.Equal("12"u8.ToArray(), _out.Written);
        Assert.Equal(LsrThre | LsrTemt, In(LineStatus) & (LsrThre | LsrTemt));
        Assert.Equal(before + 1, _irq.Count);
        Assert.Equal(IirThri, In(InterruptIdentification));
    }

    [Fact]
    public void WriteThr_SinkRefusesAndHoldQueueFull_DropsAndCounts()
    {
        _out.Open = false;
        for (int i = 0; i < Serial8250.TxHoldCapacity + 1; i++)
        {
            Out(Data, (byte)i);
        }

        Assert.Equal(1, _uart.DroppedTxBytes);
        _out.BecomeWritable();
        Assert.Equal(Serial8250.TxHoldCapacity, _out.Written.Count);
        Assert.Equal(Enumerable.Range(0, Serial8250.TxHoldCapacity).Select(i => (byte)i), _out.Written);
    }

    /// <summary>A block written after one THRE check (one rep outsb: a byte per exit) survives a refusing sink.</summary>
    [Fact]
    public void WriteThr_PageAfterOneThreCheckWhileSinkRefuses_LosesNothing()
    {
        Assert.NotEqual(0, In(LineStatus) & LsrThre);
        _out.Open = false;
        for (int i = 0; i < 4096; i++)
        {
            Out(Data, (byte)(i * 7));
        }

        Assert.Equal(0, In(LineStatus) & LsrThre);
        _out.BecomeWritable();

        Assert.Equal(0, _uart.DroppedTxBytes);
        Assert.Equal(Enumerable.Range(0, 4096).Select(i => (byte)(i * 7)), _out.Written);
        Assert.NotEqual(0, In(LineStatus) & LsrThre);
    }

    [Fact]
    public void Writable_SinkStillFull_KeepsThreClearAndLosesNothing()
    {
        Out(InterruptEnable, IerThri);
        _ = In(InterruptIdentification);
        _out.Open = false;
        Out(Data, 1);
        int before = _irq.Count;

        _out.RaiseWritable(); // a spurious wake-up: the sink is still full

        Assert.Empty(_out.Written);
        Assert.Equal(0, In(LineStatus) & LsrThre);
        Assert.Equal(before, _irq.Count);

        _out.BecomeWritable();

        Assert.Equal([(byte)1], _out.Written);
        Assert.Equal(LsrThre, In(LineStatus) & LsrThre);
    }

    [Fact]
    public void Fcr_ClearReceiver_EmptiesInput()
    {
        _uart.EnqueueInput("ab"u8);

        Out(InterruptIdentification, FcrEnableFifo | FcrClearRcvr);

        Assert.Equal(0, In(LineStatus) & LsrDr);
        Assert.Equal(4, _uart.InputSpace);
    }

    [Fact]
    public void Read_WiderAccess_PutsValueInFirstByteAndZeroesTheRest()
    {
        Out(Scratch, 0x42);
        byte[] wide = [0xff, 0xff, 0xff, 0xff];

        _uart.Read(Scratch, wide);

        Assert.Equal(new byte[] { 0x42, 0, 0, 0 }, wide);
    }

    [Fact]
    public void Dispose_UnsubscribesFromTheSink()
    {
        Assert.Equal(1, _out.SubscriberCount);

        _uart.Dispose();

        Assert.Equal(0, _out.SubscriberCount);
    }
}
