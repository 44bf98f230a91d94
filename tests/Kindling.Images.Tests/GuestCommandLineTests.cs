using Kindling.Vmm.Contract;

namespace Kindling.Images.Tests;

public sealed class GuestCommandLineTests
{
    [Fact]
    public void Build_Defaults_ConsoleRebootPanicPciAndAgentFlag()
    {
        Assert.Equal("console=ttyS0 reboot=k panic=1 pci=off kindling.agent=1", GuestCommandLine.Create().Build());
    }

    [Fact]
    public void Build_DrivesAndMmds_KindlingOptionsAppendedAndReplaced()
    {
        string s = GuestCommandLine.Create().WithBaseDevice("/dev/vda").WithOverlayDevice("/dev/vdb").WithMmdsAddress("169.254.169.254")
            .Set("panic", "5").Set("quiet", null).Build();

        Assert.Equal("console=ttyS0 reboot=k panic=5 pci=off kindling.agent=1 kindling.base=/dev/vda kindling.overlay=/dev/vdb kindling.mmds=169.254.169.254 quiet", s);
    }

    [Theory]
    [InlineData(GuestKernel.Kindling, " kindling_syscall=1")]
    [InlineData(GuestKernel.Debian, "")]
    public void ForEmulatedHost_Kernel_LongerAgentTimeoutAndTheKernelsOwnSwitch(GuestKernel kind, string kernelWords)
    {
        var kernel = new KernelArtifacts("bz", "vmlinux", "initrd", "6.1", "pkg", []) { Kind = kind };

        string s = GuestCommandLine.Create().ForEmulatedHost(kernel).Build();

        Assert.Equal($"console=ttyS0 reboot=k panic=1 pci=off kindling.agent=1 kindling.http_timeout=120{kernelWords}", s);
    }

    [Fact]
    public void Set_ValueWithSpace_Throws() =>
        Assert.Throws<ArgumentException>(() => GuestCommandLine.Create().Set("kindling.base", "/dev/vda rw"));

    [Fact]
    public void Build_TooLong_LeavesNoRoomForVmm_Throws()
    {
        KernelCommandLine c = GuestCommandLine.Create();
        for (int i = 0; i < 110; i++) // past the room left for the VMM, within the kernel's limit
        {
            c.Set($"opt{i}", "xxxxxxxx");
        }

        ImageBuildException e = Assert.Throws<ImageBuildException>(() => c.Build());
        Assert.Contains("room for the VMM", e.Message);
    }

    [Fact]
    public void WithoutDrives_BaseAndOverlayNone()
    {
        Assert.Contains("kindling.base=none kindling.overlay=none", GuestCommandLine.Create().WithoutDrives().Build());
    }
}
