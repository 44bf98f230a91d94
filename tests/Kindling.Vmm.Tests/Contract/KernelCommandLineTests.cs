namespace Kindling.Vmm.Tests.Contract;

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

        Assert.Contains("the limit is 2047 (x86 COMMAND_LINE_SIZE 2048 with its NUL)", e.Message, StringComparison.Ordinal);
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

    [Fact]
    public void MaxLength_IsTheKernelsCmdlineSize()
    {
        // cmdline_size of the x86-64 kernels we boot (Debian's and ours): COMMAND_LINE_SIZE 2048 less the NUL.
        Assert.Equal(2047, KernelCommandLine.MaxLength);
        Assert.Equal(KernelCommandLine.Size - 1, KernelCommandLine.MaxLength);
    }

    [Fact]
    public void Append_QuotedValueWithSpaces_OneParameter()
    {
        var cmdline = new KernelCommandLine("a=1");

        cmdline.Append("dyndbg", "\"file x.c +p\"").Append("b");

        Assert.Equal("a=1 dyndbg=\"file x.c +p\" b", cmdline.ToString());
        Assert.True(cmdline.Contains("dyndbg"));
        Assert.False(cmdline.Contains("x.c"));
    }

    [Fact]
    public void Set_ExistingKey_ReplacedInPlace_NewKey_Appended()
    {
        var cmdline = new KernelCommandLine("console=ttyS0 panic=1 quiet");

        cmdline.Set("panic", "5").Set("kindling.mmds", "10.0.0.1").Set("quiet", null);

        Assert.Equal("console=ttyS0 panic=5 quiet kindling.mmds=10.0.0.1", cmdline.ToString());
        Assert.Equal(cmdline.ToString().Length, cmdline.Length);
    }

    [Theory]
    [InlineData("a b")]
    [InlineData("a\"b")]
    [InlineData("")]
    public void Set_ValueWithSpaceOrQuote_Throws(string value) =>
        Assert.Throws<ArgumentException>(() => new KernelCommandLine().Set("k", value));

    [Fact]
    public void Set_ReplacementBeyondTheLimit_ThrowsAndKeepsTheOldValue()
    {
        var cmdline = new KernelCommandLine($"k=1 {new string('a', KernelCommandLine.MaxLength - 4)}");

        Assert.Throws<ArgumentException>(() => cmdline.Set("k", "22"));

        Assert.StartsWith("k=1 ", cmdline.ToString(), StringComparison.Ordinal);
        Assert.Equal(KernelCommandLine.MaxLength, cmdline.Length);
    }

    [Fact]
    public void ToBootArgs_LeavesTheVmmItsRoom_OrThrows()
    {
        int room = KernelCommandLine.MaxLength - KernelCommandLine.ReservedForVmm;
        var fits = new KernelCommandLine(new string('a', room));
        var over = new KernelCommandLine(new string('a', room + 1));

        Assert.Equal(room, fits.ToBootArgs().Length);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => over.ToBootArgs());
        Assert.Contains("room for the VMM", e.Message, StringComparison.Ordinal);
    }
}
