using System.Text;
using System.Text.RegularExpressions;
using Kindling.Images.Cache;
using Kindling.Images.Tools;

namespace Kindling.Images.Kernel;

/// <summary>
/// Builds Kindling's own guest kernel from Debian's <c>linux-source-6.1</c> package: <c>make tinyconfig</c>, then
/// the Firecracker-like fragment <c>images/guest/kernel/kindling.config</c> (no PCI/ACPI/modules; 8250, virtio-mmio
/// block/net/vsock/rng, ext4, overlayfs), then <c>emulated-syscall.patch</c>, which lets the kernel take system calls on
/// hosts whose KVM emulates guest kernel code (see that patch and issue 11). The result (vmlinux, bzImage,
/// System.map) is cached under <c>kernel/kindling-&lt;source version&gt;-&lt;hash&gt;</c>, the hash covering the
/// fragment, the patch and this builder's version, so a change to either rebuilds it. A build takes minutes on two
/// cores; it reports progress per compiled file.
/// </summary>
internal sealed partial class KindlingKernelBuilder(string cacheRoot, string guestDirectory, string sourcePackage)
{
    public const int BuilderVersion = 1;
    public const string KernelSubdirectory = "kernel";
    public const string ConfigFragmentName = "kindling.config";
    public const string PatchName = "emulated-syscall.patch";
    public const string SystemMapName = "System.map";
    public const string KindlingPackagePrefix = "kindling-";

    /// <summary>Compiled objects in a build of the fragment (measured: ~1,150), for the progress fraction.</summary>
    private const int ExpectedCompileSteps = 1150;

    /// <summary>The tools a kernel build needs beyond the SDK, with the Debian package of each.</summary>
    private static readonly (string Tool, string Package)[] BuildTools =
        [("gcc", "gcc"), ("make", "make"), ("flex", "flex"), ("bison", "bison"), ("bc", "bc"), ("patch", "patch"),
         ("tar", "tar"), ("xz", "xz-utils"), ("perl", "perl")];

    private static readonly string[] BuildHeaders = ["/usr/include/libelf.h", "/usr/include/gelf.h"];

    public string FragmentPath => Path.Combine(guestDirectory, KernelSubdirectory, ConfigFragmentName);

    public string PatchPath => Path.Combine(guestDirectory, KernelSubdirectory, PatchName);

    public async Task<KernelBuild> EnsureAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        byte[] fragment = await ReadGuestFileAsync(FragmentPath, ct);
        byte[] patch = await ReadGuestFileAsync(PatchPath, ct);
        string recipeHash = GuestFiles.Sha256(Encoding.UTF8.GetBytes(
            $"builder={BuilderVersion}\nfragment={GuestFiles.Sha256(fragment)}\npatch={GuestFiles.Sha256(patch)}\n"))[..16];

        string kernelRoot = Directory.CreateDirectory(Path.Combine(cacheRoot, KernelSubdirectory)).FullName;
        TempDirectory.SweepStale(kernelRoot);
        string version;
        try
        {
            progress?.Report(new ImageProgress("kernel", $"resolving {sourcePackage}", null));
            version = await ResolveVersionAsync(ct);
        }
        catch (ImageBuildException) when (FindCached(kernelRoot, recipeHash) is { } cached)
        {
            return cached; // apt is unreachable, but this recipe was built before.
        }

        string final = Path.Combine(kernelRoot, $"{KindlingPackagePrefix}{version}-{recipeHash}");
        if (KernelBuild.TryLoad(final) is { } hit)
        {
            return hit;
        }

        CheckBuildTools();
        using FileStream buildLock = await LockAsync(kernelRoot, progress, ct);
        if (KernelBuild.TryLoad(final) is { } builtMeanwhile)
        {
            return builtMeanwhile; // another process built it while this one waited
        }

        using TempDirectory temp = new(kernelRoot);
        string debDir = Directory.CreateDirectory(Path.Combine(temp.Path, "deb")).FullName;
        string output = Directory.CreateDirectory(Path.Combine(temp.Path, "out")).FullName;
        string build = Directory.CreateDirectory(Path.Combine(temp.Path, "build")).FullName;

        progress?.Report(new ImageProgress("kernel", $"downloading {sourcePackage} {version}", 0.01));
        await ProcessRunner.RunAsync("apt-get", ["download", $"{sourcePackage}={version}"], debDir, cancellationToken: ct);
        string deb = Directory.GetFiles(debDir, "*.deb").SingleOrDefault()
            ?? throw new ImageBuildException($"apt-get download {sourcePackage} produced no .deb in {debDir}");

        progress?.Report(new ImageProgress("kernel", "unpacking the kernel source", 0.03));
        string unpacked = Path.Combine(temp.Path, "pkg");
        await ProcessRunner.RunAsync("dpkg-deb", ["-x", deb, unpacked], cancellationToken: ct);
        File.Delete(deb);
        string tarball = Directory.GetFiles(Path.Combine(unpacked, "usr", "src"), "linux-source-*.tar.*").SingleOrDefault()
            ?? throw new ImageBuildException($"{sourcePackage} contains no usr/src/linux-source-*.tar.*");
        await ProcessRunner.RunAsync("tar", ["-xf", tarball, "-C", temp.Path], cancellationToken: ct);
        Directory.Delete(unpacked, recursive: true);
        string source = Directory.GetDirectories(temp.Path, "linux-source-*").SingleOrDefault()
            ?? throw new ImageBuildException($"{Path.GetFileName(tarball)} did not unpack to a linux-source-* directory");

        progress?.Report(new ImageProgress("kernel", $"applying {PatchName}", 0.06));
        await ProcessRunner.RunAsync("patch", ["-p1", "--forward", "--batch", "-i", PatchPath], source, cancellationToken: ct);

        progress?.Report(new ImageProgress("kernel", "configuring (tinyconfig + kindling.config)", 0.07));
        string[] make = ["-C", source, $"O={build}"];
        await ProcessRunner.RunAsync("make", [.. make, "tinyconfig"], cancellationToken: ct);
        await ProcessRunner.RunAsync(Path.Combine(source, "scripts", "kconfig", "merge_config.sh"),
            ["-m", "-O", build, Path.Combine(build, ".config"), FragmentPath], source, cancellationToken: ct);
        await ProcessRunner.RunAsync("make", [.. make, "olddefconfig"], cancellationToken: ct);
        string config = await File.ReadAllTextAsync(Path.Combine(build, ".config"), ct);
        if (ConfigMismatches(Encoding.UTF8.GetString(fragment), config) is { Count: > 0 } mismatches)
        {
            throw new ImageBuildException(
                $"the kernel configuration did not take these settings of {FragmentPath}: {string.Join(", ", mismatches)} " +
                "(a dependency is missing or the option was renamed in this kernel version; fix the fragment)");
        }

        int jobs = Math.Max(1, Environment.ProcessorCount);
        int compiled = 0;
        progress?.Report(new ImageProgress("kernel", $"compiling Linux {version} on {jobs} core(s)", 0.08));
        await ProcessRunner.RunAsync("make", [.. make, $"-j{jobs}", "bzImage"], onOutputLine: line =>
        {
            if (CompileStep().IsMatch(line))
            {
                compiled++;
                if (compiled % 10 == 0)
                {
                    double fraction = 0.08 + (0.9 * Math.Min(1.0, compiled / (double)ExpectedCompileSteps));
                    progress?.Report(new ImageProgress("kernel", $"compiling Linux {version}: {compiled} files", fraction));
                }
            }
        }, cancellationToken: ct);

        File.Copy(Path.Combine(build, "vmlinux"), Path.Combine(output, KernelBuild.VmlinuxName));
        File.Copy(Path.Combine(build, "arch", "x86", "boot", "bzImage"), Path.Combine(output, KernelBuild.BzImageName));
        File.Copy(Path.Combine(build, SystemMapName), Path.Combine(output, SystemMapName));
        File.Copy(Path.Combine(build, ".config"), Path.Combine(output, "config"));
        string kernelRelease = (await File.ReadAllTextAsync(Path.Combine(build, "include", "config", "kernel.release"), ct)).Trim();
        await AtomicFile.WriteAllTextAsync(Path.Combine(output, KernelBuild.ModuleOrderName), "", ct);
        Directory.CreateDirectory(Path.Combine(output, KernelBuild.ModulesDirName));
        await AtomicFile.WriteAllTextAsync(Path.Combine(output, KernelBuild.VersionName),
            $"{KindlingPackagePrefix}{sourcePackage}\n{version}\n{kernelRelease}-kindling\n", ct);
        AtomicFile.PublishDirectory(output, final);
        progress?.Report(new ImageProgress("kernel", $"Kindling kernel {kernelRelease} built", 1));
        return KernelBuild.TryLoad(final) ?? throw new ImageBuildException($"kernel cache entry {final} vanished after it was written");
    }

    /// <summary>
    /// One kernel build at a time per cache (two test processes or a daemon and `kindling images build` would
    /// otherwise both spend minutes on the same build): an exclusive lock on <c>kernel/.kindling-build.lock</c>.
    /// </summary>
    private static async Task<FileStream> LockAsync(string kernelRoot, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        string path = Path.Combine(kernelRoot, ".kindling-build.lock");
        bool reported = false;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                if (!reported)
                {
                    progress?.Report(new ImageProgress("kernel", "waiting for another build of the Kindling kernel to finish", null));
                    reported = true;
                }

                await Task.Delay(LockPollInterval, ct);
            }
        }
    }

    private static readonly TimeSpan LockPollInterval = TimeSpan.FromSeconds(2);

    /// <summary>The fragment's CONFIG_X=value lines that the final .config does not have (=n means "not set").</summary>
    public static IReadOnlyList<string> ConfigMismatches(string fragment, string config)
    {
        var have = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string line in config.Split('\n'))
        {
            if (SetLine().Match(line) is { Success: true } set)
            {
                have[set.Groups[1].Value] = set.Groups[2].Value;
            }
        }

        List<string> missing = [];
        foreach (string line in fragment.Split('\n'))
        {
            if (SetLine().Match(line.Trim()) is not { Success: true } want)
            {
                continue;
            }

            string name = want.Groups[1].Value, value = want.Groups[2].Value;
            bool ok = value == "n" ? !have.TryGetValue(name, out string? v) || v == "n" : have.TryGetValue(name, out string? got) && got == value;
            // DEBUG_KERNEL is selected by EXPERT, which tinyconfig needs; asking for n there is a wish, not a must.
            if (!ok && name != "CONFIG_DEBUG_KERNEL")
            {
                missing.Add($"{name}={value}");
            }
        }

        return missing;
    }

    private async Task<string> ResolveVersionAsync(CancellationToken ct)
    {
        ProcessResult show = await ProcessRunner.RunAsync("apt-cache", ["show", "--no-all-versions", sourcePackage], throwOnFailure: false, cancellationToken: ct);
        Match v = VersionLine().Match(show.StandardOutput);
        if (show.ExitCode != 0 || !v.Success)
        {
            throw new ImageBuildException(
                $"Debian package '{sourcePackage}' is not known to apt ({show.StandardError.Trim()}); run 'apt-get update'");
        }

        return v.Groups[1].Value;
    }

    private static void CheckBuildTools()
    {
        string[] path = (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':');
        List<string> missing = [.. BuildTools.Where(t => !path.Any(d => File.Exists(Path.Combine(d, t.Tool)))).Select(t => t.Package)];
        if (BuildHeaders.Any(h => !File.Exists(h)))
        {
            missing.Add("libelf-dev");
        }

        if (missing.Count > 0)
        {
            throw new ImageBuildException(
                $"building the Kindling guest kernel needs {string.Join(", ", missing)}; install them: apt-get install -y {string.Join(' ', missing.Distinct())}");
        }
    }

    private static async Task<byte[]> ReadGuestFileAsync(string path, CancellationToken ct) =>
        File.Exists(path)
            ? await File.ReadAllBytesAsync(path, ct)
            : throw new ImageBuildException($"guest kernel file {path} is missing; it comes from images/guest/kernel in the repository");

    private static KernelBuild? FindCached(string kernelRoot, string recipeHash) =>
        Directory.GetDirectories(kernelRoot, $"{KindlingPackagePrefix}*-{recipeHash}").Order(StringComparer.Ordinal)
            .Select(KernelBuild.TryLoad).LastOrDefault(k => k is not null);

    [GeneratedRegex(@"^\s+CC\s+\S+\.o$")]
    private static partial Regex CompileStep();

    [GeneratedRegex(@"^(CONFIG_[A-Z0-9_]+)=(\S+)$")]
    private static partial Regex SetLine();

    [GeneratedRegex(@"^Version:\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}
