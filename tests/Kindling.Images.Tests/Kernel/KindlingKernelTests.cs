using System.Text;
using Kindling.Images.Kernel;
using Kindling.Testing;

namespace Kindling.Images.Tests.Kernel;

/// <summary>Kindling's own guest kernel, built from Debian's linux-source (minutes the first time, then cached).</summary>
public sealed class KindlingKernelTests(ImageStoreFixture images)
{
    [Fact]
    public void ConfigMismatches_OptionsThatDidNotStick_AreNamed()
    {
        const string fragment = "# a comment\nCONFIG_A=y\nCONFIG_B=n\nCONFIG_C=0x100\nCONFIG_D=y\nCONFIG_E=n\n";
        const string config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=0x200\n# CONFIG_D is not set\nCONFIG_E=y\n";

        IReadOnlyList<string> missing = KindlingKernelBuilder.ConfigMismatches(fragment, config);

        Assert.Equal(["CONFIG_C=0x100", "CONFIG_D=y", "CONFIG_E=n"], missing);
    }

    [Fact]
    public void ConfigMismatches_TheShippedFragmentAgainstItself_None()
    {
        string fragment = File.ReadAllText(Path.Combine(ImageStoreFixture.GuestDirectory, "kernel", KindlingKernelBuilder.ConfigFragmentName));

        Assert.Empty(KindlingKernelBuilder.ConfigMismatches(fragment, fragment));
        Assert.Contains("CONFIG_KINDLING_EMULATED_SYSCALL=y", fragment);
    }

    [Fact]
    public async Task EnsureKernel_Kindling_PatchedElfKernelAndUncompressedInitramfsWithoutModules()
    {
        KernelArtifacts k = await images.KindlingKernelAsync();

        Assert.Equal(GuestKernel.Kindling, k.Kind);
        byte[] elfMagic = [0x7f, (byte)'E', (byte)'L', (byte)'F'];
        Assert.Equal(elfMagic, File.ReadAllBytes(k.VmlinuxPath)[..4]);
        string dir = Path.GetDirectoryName(k.VmlinuxPath)!;
        Assert.Contains("CONFIG_KINDLING_EMULATED_SYSCALL=y", File.ReadAllText(Path.Combine(dir, "config")));
        Assert.Contains(" kindling_syscall_setup", File.ReadAllText(Path.Combine(dir, KindlingKernelBuilder.SystemMapName)));
        Assert.Empty(k.Modules);
        Assert.Equal([KernelArtifacts.KindlingSyscallBootArg], k.EmulatedHostBootArgs);

        byte[] initramfs = File.ReadAllBytes(k.InitramfsPath);
        Assert.Equal("070701", Encoding.ASCII.GetString(initramfs, 0, 6)); // newc cpio, not gzip
        Assert.EndsWith(".cpio", k.InitramfsPath, StringComparison.Ordinal);

        KernelArtifacts again = await images.Store.EnsureKernelAsync(GuestKernel.Kindling, null, TestContext.Current.CancellationToken);
        Assert.Equal(k.VmlinuxPath, again.VmlinuxPath);
    }
}
