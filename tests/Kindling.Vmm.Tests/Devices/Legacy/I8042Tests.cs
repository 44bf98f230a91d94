using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Tests.Devices.Legacy;

public sealed class I8042Tests
{
    private readonly I8042 _device = new();

    [Fact]
    public void Write_ResetCpuToCommandPort_RaisesResetRequested()
    {
        int resets = 0;
        _device.ResetRequested += () => resets++;

        _device.Write(I8042.CommandOffset, [I8042.CmdResetCpu]);

        Assert.Equal(1, resets);
        Assert.Equal(1, _device.ResetCount);
    }

    [Theory]
    [InlineData(I8042.DataOffset, I8042.CmdResetCpu)] // 0xFE to the data port is a keyboard byte, not a reset
    [InlineData(I8042.CommandOffset, 0xad)]           // disable keyboard
    [InlineData(I8042.CommandOffset, 0xd1)]           // write output port
    public void Write_OtherCommands_DoNotReset(ulong offset, byte value)
    {
        int resets = 0;
        _device.ResetRequested += () => resets++;

        _device.Write(offset, [value]);

        Assert.Equal(0, resets);
    }

    [Fact]
    public void Read_Status_SaysKeyboardEnabledAndNoOutputData()
    {
        byte[] status = [0xff];

        _device.Read(I8042.CommandOffset, status);

        Assert.Equal(I8042.StatusKeyboardEnabled, status[0]);
        Assert.Equal(0, status[0] & 0x01); // OBF clear: the guest's flush loop ends
    }

    [Fact]
    public void Read_Data_ReturnsZero()
    {
        byte[] data = [0xff, 0xff];

        _device.Read(I8042.DataOffset, data);

        Assert.Equal(new byte[] { 0, 0 }, data);
    }
}
