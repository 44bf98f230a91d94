namespace Kindling.Vmm.Tests.Native;

/// <summary>The one ioctl encoder against request numbers the kernel headers give (gcc -E of &lt;linux/if_tun.h&gt;, &lt;linux/kvm.h&gt;).</summary>
public sealed class IoctlNumberTests
{
    [Fact]
    public void IoW_TunSetIff_MatchesTheHeader() => Assert.Equal((nuint)0x400454ca, IoctlNumber.IoW<int>('T', 202));

    [Fact]
    public void IoW_TunSetOffload_MatchesTheHeader() => Assert.Equal((nuint)0x400454d0, IoctlNumber.IoW<uint>('T', 208));

    [Fact]
    public void Io_KvmGetApiVersion_MatchesTheHeader() => Assert.Equal((nuint)0xae00, IoctlNumber.Io(0xAE, 0x00));

    [Fact]
    public void IoR_KvmGetRegs_MatchesTheHeader() => Assert.Equal((nuint)0x8090ae81, IoctlNumber.IoR<Kindling.Vmm.Kvm.Abi.KvmRegs>(0xAE, 0x81));

    [Fact]
    public void IoWR_SizeOfArgument_InBits16To29() =>
        Assert.Equal((nuint)(0xC0000000u | (8u << 16) | (0xAEu << 8) | 0x05u), IoctlNumber.IoWR<ulong>(0xAE, 0x05));
}
