using Kindling.Images.Rootfs;

namespace Kindling.Runner.Cli;

/// <summary>
/// The Debian packages a verb (<c>kindling demo</c>, <c>kindling images build</c>, <c>kindling replay</c>) needs on
/// the host. Run as root it installs the missing ones as tests/run.sh does: it lists them first, then
/// <c>apt-get update</c> once and <c>apt-get install -y --no-install-recommends</c>. Not root, it installs nothing and
/// returns the exact command that would.
/// </summary>
public sealed class HostSetup(IPackageSystem packages, bool isRoot, TextWriter output)
{
    /// <summary>Every image build: the initramfs and minimal rootfs (busybox), ext4 images, the kernel's modules.</summary>
    public static readonly IReadOnlyList<string> ImagePackages = ["busybox-static", "e2fsprogs", "kmod", "xz-utils", "zstd"];

    /// <summary>The <c>debian</c> and <c>github</c> rootfs flavours (the github one also unpacks with tar, which Debian always has).</summary>
    public static readonly IReadOnlyList<string> DebianRootfsPackages = ["debootstrap"];

    /// <summary>Kindling's own guest kernel, built from Debian's linux-source where the host's KVM emulates guest kernel code.</summary>
    public static readonly IReadOnlyList<string> KernelBuildPackages = ["gcc", "libc6-dev", "make", "flex", "bison", "bc", "patch", "tar", "perl", "libelf-dev"];

    /// <summary>Real microVMs run by root: a TAP per VM (ip), the guest network's rules (nft) and the jail's namespaces (unshare).</summary>
    public static readonly IReadOnlyList<string> VmPackages = ["iproute2", "nftables", "util-linux"];

    public static HostSetup ForThisHost(TextWriter output) => new(new AptPackageSystem(), Environment.IsPrivilegedProcess, output);

    /// <summary>What building images of <paramref name="flavour"/> needs.</summary>
    public static IReadOnlyList<string> ForImages(Flavour flavour, bool kindlingKernel = false) =>
        [.. ImagePackages, .. flavour.IsDebootstrapped() ? DebianRootfsPackages : [], .. kindlingKernel ? KernelBuildPackages : []];

    /// <summary>The command that installs <paramref name="missing"/>.</summary>
    public static string InstallCommand(IEnumerable<string> missing) =>
        $"apt-get install -y --no-install-recommends {string.Join(' ', missing)}";

    /// <summary>
    /// Makes sure <paramref name="needed"/> are installed. Null when they are (now); otherwise the message to show
    /// after the verb's name (not root: the exact command to run; the install failed: how).
    /// </summary>
    public async Task<string?> EnsureAsync(string verb, IEnumerable<string> needed, CancellationToken ct)
    {
        string[] wanted = [.. needed.Distinct(StringComparer.Ordinal)];
        IReadOnlySet<string> installed = packages.Installed(wanted);
        string[] missing = [.. wanted.Where(p => !installed.Contains(p))];
        if (missing.Length == 0)
        {
            return null;
        }

        string list = string.Join(' ', missing);
        if (!isRoot)
        {
            return $"missing Debian packages: {list}; install them as root: sudo {InstallCommand(missing)} (or run {verb} as root: it installs them itself)";
        }

        output.WriteLine($"{verb}: installing the Debian packages it needs: {list}");
        try
        {
            int update = await packages.AptGetAsync(["update", "-qq"], ct);
            if (update != 0)
            {
                return $"apt-get update failed (exit {update}); fix the package sources, then run: {InstallCommand(missing)}";
            }

            int install = await packages.AptGetAsync(["install", "-y", "-qq", "--no-install-recommends", .. missing], ct);
            if (install != 0)
            {
                return $"{InstallCommand(missing)} failed (exit {install}); see apt-get's output above";
            }
        }
        catch (FileNotFoundException e)
        {
            return $"missing Debian packages: {list}, and {e.Message}: on a host without apt, install their equivalents by hand";
        }

        IReadOnlySet<string> after = packages.Installed(missing);
        string[] still = [.. missing.Where(p => !after.Contains(p))];
        return still.Length == 0 ? null : $"{string.Join(' ', still)} still not installed after apt-get install; run: {InstallCommand(still)}";
    }
}
