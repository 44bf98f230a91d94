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
    public void ConfigMismatches_ShippedFragment_EveryLineIsAnOptionOrAComment()
    {
        string fragment = ShippedFragment();

        // Anything else would be skipped by ConfigMismatches and by kconfig alike: an option that silently does nothing.
        Assert.All(fragment.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            line => Assert.Matches(@"^(#.*|CONFIG_[A-Z0-9_]+=\S+)$", line));
        Assert.Contains("CONFIG_KINDLING_EMULATED_SYSCALL=y", fragment);
    }

    /// <summary>The built kernel's .config (what kconfig made of Debian's config plus the fragment) keeps every option the fragment asks for.</summary>
    [Fact]
    public async Task EnsureKernel_Kindling_BuiltConfigHoldsEveryOptionOfTheShippedFragment()
    {
        KernelArtifacts k = await images.KindlingKernelAsync();

        string built = File.ReadAllText(Path.Combine(Path.GetDirectoryName(k.VmlinuxPath)!, "config"));
        Assert.Empty(KindlingKernelBuilder.ConfigMismatches(ShippedFragment(), built));
    }

    private static string ShippedFragment() =>
        File.ReadAllText(Path.Combine(ImageStoreFixture.GuestDirectory, "kernel", KindlingKernelBuilder.ConfigFragmentName));

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
