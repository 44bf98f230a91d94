using Kindling.Vmm.Boot;

namespace Kindling.Vmm.Tests.Boot;

public sealed class BootMsrsTests
{
    [Fact]
    public void Defaults_AreFirecrackersBootMsrs()
    {
        Dictionary<uint, ulong> msrs = BootMsrs.Defaults.ToDictionary(m => m.Index, m => m.Value);

        Assert.Equal(11, msrs.Count);
        Assert.Equal(0UL, msrs[0x174]); // SYSENTER_CS
        Assert.Equal(0UL, msrs[0x175]);
        Assert.Equal(0UL, msrs[0x176]);
        Assert.Equal(0UL, msrs[0xc000_0081]); // STAR
        Assert.Equal(0UL, msrs[0xc000_0082]); // LSTAR
        Assert.Equal(0UL, msrs[0xc000_0083]); // CSTAR
        Assert.Equal(0UL, msrs[0xc000_0084]); // SYSCALL_MASK
        Assert.Equal(0UL, msrs[0xc000_0102]); // KERNEL_GS_BASE
        Assert.Equal(0UL, msrs[0x10]); // TSC
        Assert.Equal(1UL, msrs[0x1a0]); // MISC_ENABLE fast strings
        Assert.Equal(0x806UL, msrs[0x2ff]); // MTRRdefType: enabled, write-back
    }
}
