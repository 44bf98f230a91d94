using System.Text.RegularExpressions;
using Kindling.Images.Cache;
using Kindling.Images.Tools;

namespace Kindling.Images.Kernel;

/// <summary>A kernel unpacked into the cache: bzImage, ELF vmlinux and the modules the guest loads.</summary>
public sealed record KernelBuild(string Directory, string Package, string PackageVersion, string KernelVersion, IReadOnlyList<string> ModuleFiles)
{
    public const string BzImageName = "bzImage";
    public const string VmlinuxName = "vmlinux";
    public const string ModulesDirName = "modules";
    public const string ModuleOrderName = "modules.order";
    public const string VersionName = "kernel.version";

    public string BzImagePath => Path.Combine(Directory, BzImageName);
    public string VmlinuxPath => Path.Combine(Directory, VmlinuxName);
    public string ModulesDirectory => Path.Combine(Directory, ModulesDirName);

    /// <summary>The kernel cached in <paramref name="dir"/>, or null when any of its files is missing.</summary>
    public static KernelBuild? TryLoad(string dir)
    {
        string versionFile = Path.Combine(dir, KernelBuild.VersionName);
        if (!File.Exists(versionFile) || !File.Exists(Path.Combine(dir, KernelBuild.VmlinuxName))
            || !File.Exists(Path.Combine(dir, KernelBuild.BzImageName)))
        {
            return null;
        }

        string[] v = File.ReadAllLines(versionFile);
        string[] modules = File.ReadAllLines(Path.Combine(dir, KernelBuild.ModuleOrderName)).Where(l => l.Length > 0).ToArray();
        if (v.Length < 3 || modules.Any(f => !File.Exists(Path.Combine(dir, KernelBuild.ModulesDirName, f))))
        {
            return null;
        }

        return new KernelBuild(dir, v[0], v[1], v[2], modules);
    }
}

/// <summary>
/// Fetches Debian's cloud kernel without installing it: resolves the <c>linux-image-cloud-amd64</c> metapackage
/// to its real <c>linux-image-6.x-cloud-amd64</c> package, <c>apt-get download</c>s it, unpacks it with
/// <c>dpkg-deb -x</c>, runs <c>depmod -b</c> on the unpacked tree (the package ships no modules.dep), and keeps the
/// bzImage, the extracted vmlinux and the listed modules (decompressed) in dependency order.
/// </summary>
internal sealed partial class DebianKernelFetcher(string cacheRoot, string metapackage, IReadOnlyList<string> wantedModules)
{
    private const string KernelDirName = "kernel";

    public async Task<KernelBuild> EnsureAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        string kernelRoot = Path.Combine(cacheRoot, KernelDirName);
        Directory.CreateDirectory(kernelRoot);
        string package;
        string version;
        try
        {
            progress?.Report(new ImageProgress("kernel", $"resolving {metapackage}", null));
            (package, version) = await ResolveAsync(ct);
        }
        catch (ImageBuildException) when (FindCached(kernelRoot) is { } cached)
        {
            return cached; // apt is unreachable but a kernel is already cached: use it.
        }

        string final = Path.Combine(kernelRoot, $"{package}_{version}");
        if (KernelBuild.TryLoad(final) is { } hit)
        {
            return hit;
        }

        using TempDirectory temp = new(kernelRoot);
        string debDir = Directory.CreateDirectory(Path.Combine(temp.Path, "deb")).FullName;
        string tree = Path.Combine(temp.Path, "tree");
        string output = Directory.CreateDirectory(Path.Combine(temp.Path, "out")).FullName;

        progress?.Report(new ImageProgress("kernel", $"downloading {package} {version}", 0.1));
        await ProcessRunner.RunAsync("apt-get", ["download", $"{package}={version}"], debDir, cancellationToken: ct);
        string deb = Directory.GetFiles(debDir, "*.deb").SingleOrDefault()
            ?? throw new ImageBuildException($"apt-get download {package} produced no .deb in {debDir}");

        progress?.Report(new ImageProgress("kernel", "unpacking", 0.4));
        await ProcessRunner.RunAsync("dpkg-deb", ["-x", deb, tree], cancellationToken: ct);
        string vmlinuz = Directory.GetFiles(Path.Combine(tree, "boot"), "vmlinuz-*").SingleOrDefault()
            ?? throw new ImageBuildException($"{package} contains no boot/vmlinuz-*");
        string kernelVersion = Path.GetFileName(vmlinuz)["vmlinuz-".Length..];
        string modulesDir = new[] { Path.Combine(tree, "lib", "modules", kernelVersion), Path.Combine(tree, "usr", "lib", "modules", kernelVersion) }
            .FirstOrDefault(Directory.Exists)
            ?? throw new ImageBuildException($"{package} contains no lib/modules/{kernelVersion}");

        progress?.Report(new ImageProgress("kernel", "extracting vmlinux", 0.6));
        byte[] bz = await File.ReadAllBytesAsync(vmlinuz, ct);
        byte[] vmlinux;
        try
        {
            vmlinux = KernelExtractor.ExtractVmlinux(bz).Vmlinux;
        }
        catch (InvalidDataException e)
        {
            throw new ImageBuildException($"{vmlinuz} from {package}: {e.Message}", e);
        }

        await AtomicFile.WriteAllBytesAsync(Path.Combine(output, KernelBuild.BzImageName), bz, ct);
        await AtomicFile.WriteAllBytesAsync(Path.Combine(output, KernelBuild.VmlinuxName), vmlinux, ct);

        progress?.Report(new ImageProgress("kernel", "resolving modules", 0.8));
        if (!File.Exists(Path.Combine(modulesDir, "modules.dep")))
        {
            string baseDir = modulesDir.Contains("/usr/lib/", StringComparison.Ordinal) ? Path.Combine(tree, "usr") : tree;
            await ProcessRunner.RunAsync("depmod", ["-b", baseDir, kernelVersion], cancellationToken: ct);
        }

        ModuleDependencies deps = ModuleDependencies.Parse(
            await File.ReadAllTextAsync(Path.Combine(modulesDir, "modules.dep"), ct),
            File.Exists(Path.Combine(modulesDir, "modules.builtin")) ? await File.ReadAllTextAsync(Path.Combine(modulesDir, "modules.builtin"), ct) : "");
        IReadOnlyList<KernelModule> order = deps.LoadOrder(wantedModules);
        string outModules = Directory.CreateDirectory(Path.Combine(output, KernelBuild.ModulesDirName)).FullName;
        List<string> files = [];
        foreach (KernelModule m in order)
        {
            string src = Path.Combine(modulesDir, m.RelativePath);
            string dst = Path.Combine(outModules, m.Name + ".ko");
            await CopyModuleAsync(src, dst, ct);
            files.Add(m.Name + ".ko");
        }

        await AtomicFile.WriteAllTextAsync(Path.Combine(output, KernelBuild.ModuleOrderName), string.Concat(files.Select(f => f + "\n")), ct);
        await AtomicFile.WriteAllTextAsync(Path.Combine(output, KernelBuild.VersionName), $"{package}\n{version}\n{kernelVersion}\n", ct);
        AtomicFile.PublishDirectory(output, final);
        return KernelBuild.TryLoad(final) ?? throw new ImageBuildException($"kernel cache entry {final} vanished after it was written");
    }

    private static async Task CopyModuleAsync(string src, string dst, CancellationToken ct)
    {
        if (src.EndsWith(".ko", StringComparison.Ordinal))
        {
            File.Copy(src, dst);
            return;
        }

        string tool = src.EndsWith(".xz", StringComparison.Ordinal) ? "xz"
            : src.EndsWith(".zst", StringComparison.Ordinal) ? "zstd"
            : src.EndsWith(".gz", StringComparison.Ordinal) ? "gzip"
            : throw new ImageBuildException($"kernel module {src} has an unknown compression");
        string tmp = dst + ".tmp";
        await ProcessRunner.RunAsync("sh", ["-c", $"{tool} -dc \"$0\" > \"$1\"", src, tmp], cancellationToken: ct);
        File.Move(tmp, dst);
    }

    private async Task<(string Package, string Version)> ResolveAsync(CancellationToken ct)
    {
        ProcessResult deps = await ProcessRunner.RunAsync("apt-cache", ["depends", metapackage], throwOnFailure: false, cancellationToken: ct);
        Match m = DependsLine().Match(deps.StandardOutput);
        if (deps.ExitCode != 0 || !m.Success)
        {
            throw new ImageBuildException(
                $"Debian package '{metapackage}' could not be resolved to a linux-image package " +
                $"({(deps.StandardError.Trim() is { Length: > 0 } err ? err : "no Depends: linux-image-* line")}); " +
                "run 'apt-get update' or fix the kernel package name in the image settings");
        }

        string package = m.Groups[1].Value;
        ProcessResult show = await ProcessRunner.RunAsync("apt-cache", ["show", "--no-all-versions", package], cancellationToken: ct);
        Match v = VersionLine().Match(show.StandardOutput);
        if (!v.Success)
        {
            throw new ImageBuildException($"apt-cache show {package} gave no Version:; run 'apt-get update'");
        }

        return (package, v.Groups[1].Value);
    }

    // Kindling's own kernel builds share the kernel/ folder; they are never a stand-in for Debian's.
    private static KernelBuild? FindCached(string kernelRoot) =>
        Directory.GetDirectories(kernelRoot)
            .Where(d => !Path.GetFileName(d).StartsWith('.') && !Path.GetFileName(d).StartsWith(KindlingKernelBuilder.KindlingPackagePrefix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(KernelBuild.TryLoad).LastOrDefault(k => k is not null);

    [GeneratedRegex(@"^\s*Depends:\s*(linux-image-[0-9][^\s]*)", RegexOptions.Multiline)]
    private static partial Regex DependsLine();

    [GeneratedRegex(@"^Version:\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex VersionLine();
}
