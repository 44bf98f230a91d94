using System.Collections.Concurrent;
using System.Security.Cryptography;
using Kindling.Images.ActionsRunner;
using Kindling.Images.Cache;
using Kindling.Images.Initramfs;
using Kindling.Images.Kernel;
using Kindling.Images.Overlays;
using Kindling.Images.Rootfs;

namespace Kindling.Images;

/// <summary>
/// The image cache: the guest kernel + initramfs, base root filesystems (one per flavour, named by the hash of their
/// recipe) and per-job overlays. Every artifact is built under a ".tmp-" name, fsynced and renamed into place, so
/// readers never see a half-written file; a cached image whose content hash no longer matches its ".sha256"
/// sidecar is rebuilt. Builds are serialized per store.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification =
    "_buildLock is a SemaphoreSlim whose AvailableWaitHandle is never used: it holds no handle to release")]
public sealed class ImageStore
{
    public const string KernelDir = "kernel";
    public const string InitramfsDir = "initramfs";
    public const string BaseDir = "base";
    public const string OverlaysDir = "overlays";
    public const string HashSuffix = ".sha256";
    public const string RecipeSuffix = ".recipe";
    public const int InitramfsBuilderVersion = 1;

    private readonly ImageStoreOptions _options;
    private readonly SemaphoreSlim _buildLock = new(1, 1);
    private readonly ConcurrentDictionary<string, (long Length, DateTime Mtime)> _verified = new(StringComparer.Ordinal);
    private readonly Dictionary<GuestKernel, KernelArtifacts> _kernels = [];

    public ImageStore(ImageStoreOptions options)
    {
        _options = options;
        Directory.CreateDirectory(options.CacheDirectory);
    }

    public string CacheDirectory => _options.CacheDirectory;

    public ImageStoreOptions Options => _options;

    /// <summary>
    /// Fetches (once) the Debian cloud kernel and builds (once per content) its initramfs. The answer is remembered
    /// by this store while its files stay intact, so per-job calls do not ask apt again.
    /// </summary>
    public Task<KernelArtifacts> EnsureKernelAsync(IProgress<ImageProgress>? progress = null, CancellationToken cancellationToken = default) =>
        EnsureKernelAsync(GuestKernel.Debian, progress, cancellationToken);

    /// <summary>
    /// The kernel of <paramref name="kind"/> and its initramfs: Debian's is fetched, Kindling's is built from
    /// Debian's kernel source (minutes, once per configuration); see <see cref="GuestKernel"/>.
    /// </summary>
    public async Task<KernelArtifacts> EnsureKernelAsync(GuestKernel kind, IProgress<ImageProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        await _buildLock.WaitAsync(cancellationToken);
        try
        {
            if (_kernels.TryGetValue(kind, out KernelArtifacts? known) && File.Exists(known.VmlinuxPath) && File.Exists(known.BzImagePath) && IsIntact(known.InitramfsPath))
            {
                return known;
            }

            GuestFiles guest = LoadGuest();
            KernelBuild kernel = kind == GuestKernel.Kindling
                ? await new KindlingKernelBuilder(_options.CacheDirectory, _options.GuestDirectory, _options.KernelSourcePackage).EnsureAsync(progress, cancellationToken)
                : await new DebianKernelFetcher(_options.CacheDirectory, _options.KernelPackage, guest.Modules).EnsureAsync(progress, cancellationToken);
            bool gzip = kind == GuestKernel.Debian;
            IReadOnlyList<string> applets = await guest.AppletsAsync(cancellationToken);
            string hash = GuestFiles.Sha256(System.Text.Encoding.UTF8.GetBytes(string.Join('\n',
                [$"builder={InitramfsBuilderVersion}", $"kernel={Path.GetFileName(kernel.Directory)}", string.Join(',', kernel.ModuleFiles),
                 GuestFiles.Sha256(guest.Init), GuestFiles.Sha256(guest.Agent), GuestFiles.Sha256(guest.Busybox), string.Join(',', applets)])));
            string dir = Directory.CreateDirectory(Path.Combine(_options.CacheDirectory, InitramfsDir)).FullName;
            TempDirectory.SweepStale(dir);
            string path = Path.Combine(dir, $"initramfs-{hash[..16]}.cpio{(gzip ? ".gz" : "")}");
            if (!IsIntact(path))
            {
                progress?.Report(new ImageProgress("initramfs", "building the initramfs", 0.9));
                byte[] image = await InitramfsBuilder.BuildAsync(guest, kernel, applets, gzip, cancellationToken);
                await PublishAsync(path, async tmp => await File.WriteAllBytesAsync(tmp, image, cancellationToken), cancellationToken);
            }

            progress?.Report(new ImageProgress("kernel", $"kernel {kernel.KernelVersion} ready", 1));
            return _kernels[kind] = new KernelArtifacts(kernel.BzImagePath, kernel.VmlinuxPath, path, kernel.KernelVersion, kernel.Package,
                kernel.ModuleFiles.Select(m => Path.Combine(kernel.ModulesDirectory, m)).ToArray()) { Kind = kind };
        }
        finally
        {
            _buildLock.Release();
        }
    }

    /// <summary>The recipe the base image of <paramref name="flavour"/> would be built from now.</summary>
    /// <remarks>The <see cref="Flavour.Github"/> recipe needs <see cref="ImageStoreOptions.ActionsRunner"/>: without a usable version and hash it is refused, naming the keys.</remarks>
    public BaseImageRecipe RecipeFor(Flavour flavour)
    {
        ActionsRunnerSource? runner = flavour == Flavour.Github ? UsableActionsRunner() : null;
        GuestFiles guest = LoadGuest();
        return new BaseImageRecipe(
            flavour,
            flavour switch { Flavour.Debian => BaseImageRecipe.DebianPackages, Flavour.Github => BaseImageRecipe.GithubPackages, _ => [] },
            _options.DebianSuite,
            flavour.IsDebootstrapped() ? _options.DebianMirror : "",
            GuestFiles.Sha256(guest.Agent),
            GuestFiles.Sha256(guest.Init),
            GuestFiles.Sha256(guest.Busybox))
        {
            ActionsRunnerVersion = runner?.Version,
            ActionsRunnerSha256 = runner?.NormalizedSha256,
        };
    }

    /// <summary>The configured actions/runner release, or the refusal naming every key to set.</summary>
    private ActionsRunnerSource UsableActionsRunner()
    {
        ActionsRunnerSource source = _options.ActionsRunner ?? new ActionsRunnerSource("", "");
        if (source.Problems() is { Count: > 0 } problems)
        {
            throw new ImageBuildException(
                $"the github flavour needs the actions/runner release to put in the image: {string.Join("; ", problems)}. " +
                "Set them in the config (README: Run GitHub Actions jobs), or pass --actions-runner with a downloaded tarball");
        }

        return source;
    }

    /// <summary>The verified tarball of the release <paramref name="recipe"/> names (fetched into the cache when missing).</summary>
    private async Task<string> ActionsRunnerTarballAsync(BaseImageRecipe recipe, IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        ActionsRunnerSource source = UsableActionsRunner() with { Version = recipe.ActionsRunnerVersion!, Sha256 = recipe.ActionsRunnerSha256! };
        using HttpClient http = new();
        ActionsRunnerTarball tarball = await new ActionsRunnerFetcher(_options.CacheDirectory, http).EnsureAsync(source, progress, ct);
        return tarball.Path;
    }

    /// <summary>The cached base image of a flavour, built first when its recipe changed or its file is corrupt.</summary>
    public Task<BaseImage> EnsureBaseAsync(Flavour flavour, IProgress<ImageProgress>? progress = null, CancellationToken cancellationToken = default) =>
        EnsureBaseAsync(RecipeFor(flavour), progress, cancellationToken);

    public async Task<BaseImage> EnsureBaseAsync(BaseImageRecipe recipe, IProgress<ImageProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        await _buildLock.WaitAsync(cancellationToken);
        try
        {
            string dir = Directory.CreateDirectory(Path.Combine(_options.CacheDirectory, BaseDir)).FullName;
            TempDirectory.SweepStale(dir);
            string path = Path.Combine(dir, $"{recipe.Flavour.ToName()}-{recipe.Hash[..16]}.ext4");
            progress?.Report(new ImageProgress("rootfs", $"checking {Path.GetFileName(path)}", 0));
            if (IsIntact(path))
            {
                progress?.Report(new ImageProgress("rootfs", $"{recipe.Flavour.ToName()} base image is cached", 1));
                return new BaseImage(recipe.Flavour, path, recipe.Hash, new FileInfo(path).Length, Built: false);
            }

            if (File.Exists(path))
            {
                progress?.Report(new ImageProgress("rootfs", $"{Path.GetFileName(path)} does not match its {HashSuffix}: rebuilding", 0));
            }

            GuestFiles guest = LoadGuest();
            string? runner = recipe.Flavour == Flavour.Github ? await ActionsRunnerTarballAsync(recipe, progress, cancellationToken) : null;
            using TempDirectory work = new(dir);
            await PublishAsync(path, tmp => new BaseImageBuilder(guest, recipe, runner).BuildAsync(work.Path, tmp, progress, cancellationToken), cancellationToken);
            await File.WriteAllTextAsync(path + RecipeSuffix, recipe.Text, cancellationToken);
            progress?.Report(new ImageProgress("rootfs", $"{recipe.Flavour.ToName()} base image built", 1));
            return new BaseImage(recipe.Flavour, path, recipe.Hash, new FileInfo(path).Length, Built: true);
        }
        finally
        {
            _buildLock.Release();
        }
    }

    /// <summary>A job overlay holding a copy of <paramref name="workspaceDirectory"/> (or nothing when null).</summary>
    public Task<Overlay> CreateOverlayAsync(string? workspaceDirectory, long? sizeBytes = null, CancellationToken cancellationToken = default) =>
        new OverlayBuilder(OverlayDirectory).CreateAsync(
            ws =>
            {
                if (workspaceDirectory is not null)
                {
                    OverlayBuilder.CopyTree(workspaceDirectory, ws);
                }
            },
            sizeBytes ?? _options.OverlaySizeBytes,
            cancellationToken);

    /// <summary>A job overlay holding the given files under the workspace.</summary>
    public Task<Overlay> CreateOverlayAsync(IReadOnlyList<OverlayFile> files, long? sizeBytes = null, CancellationToken cancellationToken = default) =>
        new OverlayBuilder(OverlayDirectory).CreateAsync(ws => OverlayBuilder.WriteFiles(files, ws), sizeBytes ?? _options.OverlaySizeBytes, cancellationToken);

    private string OverlayDirectory => _options.OverlayDirectory ?? Path.Combine(_options.CacheDirectory, OverlaysDir);

    /// <summary>Cached kernels, initramfs images, base images and actions/runner tarballs.</summary>
    public IReadOnlyList<ImageInfo> List()
    {
        List<ImageInfo> list = [];
        string root = _options.CacheDirectory;
        foreach (string k in Dirs(Path.Combine(root, KernelDir)))
        {
            foreach (string f in new[] { KernelBuild.VmlinuxName, KernelBuild.BzImageName })
            {
                Add(list, "kernel", $"{Path.GetFileName(k)}/{f}", Path.Combine(k, f));
            }
        }

        foreach (string f in Files(Path.Combine(root, InitramfsDir), "*.cpio.gz"))
        {
            Add(list, "initramfs", Path.GetFileName(f), f);
        }

        foreach (string f in Files(Path.Combine(root, BaseDir), "*.ext4"))
        {
            Add(list, "base", Path.GetFileName(f), f);
        }

        foreach (string f in Files(Path.Combine(root, ActionsRunnerFetcher.CacheDirName), "*.tar.gz"))
        {
            Add(list, "actions-runner", Path.GetFileName(f), f);
        }

        return list;

        static IEnumerable<string> Dirs(string d) => Directory.Exists(d) ? Directory.GetDirectories(d).Where(x => !Path.GetFileName(x).StartsWith('.')).Order() : [];
        static IEnumerable<string> Files(string d, string p) => Directory.Exists(d) ? Directory.GetFiles(d, p).Where(x => !Path.GetFileName(x).StartsWith('.')).Order() : [];
        static void Add(List<ImageInfo> list, string kind, string name, string path)
        {
            if (File.Exists(path))
            {
                FileInfo fi = new(path);
                list.Add(new ImageInfo(kind, name, path, fi.Length, AllocatedBytes(path), fi.LastWriteTimeUtc));
            }
        }
    }

    private static long AllocatedBytes(string path)
    {
        // du-like: the allocated size of a sparse file, from `stat -c %b` semantics via UnixFileMode-free API.
        try
        {
            return Tools.SparseFile.AllocatedBytes(path);
        }
        catch (IOException)
        {
            return new FileInfo(path).Length;
        }
    }

    private GuestFiles LoadGuest() => GuestFiles.Load(_options.GuestDirectory, _options.BusyboxPath);

    /// <summary>True when <paramref name="path"/> exists and matches its .sha256 sidecar (checked once per file version).</summary>
    private bool IsIntact(string path)
    {
        string sidecar = path + HashSuffix;
        if (!File.Exists(path) || !File.Exists(sidecar))
        {
            return false;
        }

        FileInfo fi = new(path);
        if (_verified.TryGetValue(path, out var v) && v.Length == fi.Length && v.Mtime == fi.LastWriteTimeUtc)
        {
            return true;
        }

        string expected = File.ReadAllText(sidecar).Trim();
        if (expected != HashFile(path))
        {
            _verified.TryRemove(path, out _);
            return false;
        }

        _verified[path] = (fi.Length, fi.LastWriteTimeUtc);
        return true;
    }

    private static string HashFile(string path)
    {
        using FileStream f = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(f));
    }

    /// <summary>Builds into a temp file beside <paramref name="path"/>, fsyncs, writes the hash sidecar, renames.</summary>
    private async Task PublishAsync(string path, Func<string, Task> build, CancellationToken ct)
    {
        string dir = Path.GetDirectoryName(path)!;
        string tmp = Path.Combine(dir, TempDirectory.NewName() + Path.GetExtension(path));
        try
        {
            File.Delete(path + HashSuffix);
            await build(tmp);
            AtomicFile.Fsync(tmp);
            string hash = HashFile(tmp);
            File.Move(tmp, path, overwrite: true);
            await AtomicFile.WriteAllTextAsync(path + HashSuffix, hash + "\n", ct);
            FileInfo fi = new(path);
            _verified[path] = (fi.Length, fi.LastWriteTimeUtc);
        }
        catch (IOException e) when (e.HResult == ENOSPC || e.Message.Contains("No space left", StringComparison.Ordinal))
        {
            throw new ImageBuildException($"disk full while writing {path}: free space in {dir} or move the image cache", e);
        }
        finally
        {
            File.Delete(tmp);
        }
    }

    private const int ENOSPC = 28;
}
