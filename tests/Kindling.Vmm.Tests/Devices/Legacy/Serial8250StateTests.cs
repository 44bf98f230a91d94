using Kindling.Vmm.Devices.Legacy;
using static Kindling.Vmm.Devices.Legacy.Uart8250Registers;

namespace Kindling.Vmm.Tests.Devices.Legacy;

public sealed class Serial8250StateTests
{
    private static void Send(Serial8250 uart, string text)
    {
        foreach (char c in text)
        {
            uart.Write(Data, [(byte)c]);
        }
    }

    private static byte ReadRegister(Serial8250 uart, ulong offset)
    {
        byte[] value = new byte[1];
        uart.Read(offset, value);
        return value[0];
    }

    [Fact]
    public void RestoreState_OutputHeldMidLine_ContinuesOnTheRestoredSink()
    {
        var before = new ControlledSerialOutput();
        using var uart = new Serial8250(new CountingInterrupt(), before);
        Send(uart, "hel");
        before.Open = false;
        Send(uart, "l"); // held: the sink refuses, THRE stays clear
        Serial8250State state = uart.SaveState();

        var after = new ControlledSerialOutput();
        using var restored = new Serial8250(new CountingInterrupt(), after);
        restored.RestoreState(state);
        Send(restored, "o\n");

        Assert.Equal("hel", System.Text.Encoding.ASCII.GetString([.. before.Written]));
        Assert.Equal("lo\n", System.Text.Encoding.ASCII.GetString([.. after.Written]));
        Assert.NotEqual(0, ReadRegister(restored, LineStatus) & LsrThre);
    }

    [Fact]
    public void RestoreState_Registers_ReadBackAsTheGuestLeftThem()
    {
        using var uart = new Serial8250(new CountingInterrupt(), new ControlledSerialOutput());
        uart.Write(LineControl, [LcrDlab]);
        uart.Write(Data, [0x01]); // divisor 1: 115200 baud
        uart.Write(InterruptEnable, [0x00]);
        uart.Write(LineControl, [LcrWlen8]);
        uart.Write(Scratch, [0x5a]);
        uart.Write(InterruptEnable, [IerRdi]);
        Assert.Equal(2, uart.EnqueueInput("ab"u8));

        using var restored = new Serial8250(new CountingInterrupt(), new ControlledSerialOutput());
        restored.RestoreState(uart.SaveState());

        Assert.Equal((ushort)1, restored.BaudDivisor);
        Assert.Equal(0x5a, ReadRegister(restored, Scratch));
        Assert.Equal(IerRdi, ReadRegister(restored, InterruptEnable));
        Assert.Equal((byte)'a', ReadRegister(restored, Data));
        Assert.Equal((byte)'b', ReadRegister(restored, Data));
        Assert.Equal(0, ReadRegister(restored, LineStatus) & LsrDr);
    }

    [Fact]
    public void RestoreState_MoreHeldBytesThanTheDeviceHolds_Refused()
    {
        using var uart = new Serial8250(new CountingInterrupt(), new ControlledSerialOutput());
        var state = new Serial8250State { TransmitHold = new byte[Serial8250.TxHoldCapacity + 1] };

        ArgumentException e = Assert.Throws<ArgumentException>(() => uart.RestoreState(state));

        Assert.Contains("hold capacity", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void I8042RestoreState_ResetCount_Kept()
    {
        var i8042 = new I8042();
        i8042.Write(I8042.CommandOffset, [I8042.CmdResetCpu]);
        var restored = new I8042();

        restored.RestoreState(i8042.SaveState());

        Assert.Equal(1, restored.ResetCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => restored.RestoreState(new I8042State(-1)));
    }
}
