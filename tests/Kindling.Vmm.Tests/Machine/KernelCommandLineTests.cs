using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class KernelCommandLineTests
{
    [Fact]
    public void Append_ToBootArgs_JoinsWithSingleSpaces()
    {
        var cmdline = new KernelCommandLine("  console=ttyS0 reboot=k  ");

        cmdline.Append("virtio_mmio.device", "4K@0xd0000000:5").Append(" panic=1 ");

        Assert.Equal("console=ttyS0 reboot=k virtio_mmio.device=4K@0xd0000000:5 panic=1", cmdline.ToString());
    }

    [Fact]
    public void Append_Empty_ChangesNothing()
    {
        var cmdline = new KernelCommandLine();

        cmdline.Append("   ");

        Assert.Equal("", cmdline.ToString());
        Assert.Equal(0, cmdline.Length);
    }

    [Fact]
    public void Append_BeyondTheLimit_ThrowsAndKeepsTheOldValue()
    {
        var cmdline = new KernelCommandLine(new string('a', KernelCommandLine.MaxLength - 3));

        ArgumentException e = Assert.Throws<ArgumentException>(() => cmdline.Append("bbbb"));

        Assert.Contains("limit is 4095", e.Message, StringComparison.Ordinal);
        Assert.Equal(KernelCommandLine.MaxLength - 3, cmdline.Length);
    }

    [Fact]
    public void Append_ExactlyTheLimit_Fits()
    {
        var cmdline = new KernelCommandLine(new string('a', KernelCommandLine.MaxLength - 3));

        cmdline.Append("bb");

        Assert.Equal(KernelCommandLine.MaxLength, cmdline.Length);
    }

    [Theory]
    [InlineData("a\0b")]
    [InlineData("a\nb")]
    [InlineData("caf\u00e9")]
    public void Append_ControlOrNonAscii_Throws(string parameter)
    {
        Assert.Throws<ArgumentException>(() => new KernelCommandLine().Append(parameter));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a b")]
    [InlineData("a=b")]
    public void AppendKeyValue_BadKey_Throws(string key)
    {
        Assert.Throws<ArgumentException>(() => new KernelCommandLine().Append(key, "1"));
    }

    [Fact]
    public void Contains_FindsBareAndKeyValueParametersOnly()
    {
        var cmdline = new KernelCommandLine("quiet console=ttyS0 noapic_timer");

        Assert.True(cmdline.Contains("quiet"));
        Assert.True(cmdline.Contains("console"));
        Assert.False(cmdline.Contains("noapic"));
        Assert.False(cmdline.Contains("ttyS0"));
    }
}
