using Kindling.Images;
using Kindling.Vmm.Contract;
using Kindling.Images.Overlays;
using Kindling.Images.Rootfs;

namespace Kindling.Runner.Launch;

/// <summary>
/// The runner's images from Kindling.Images: the guest kernel (booted as an ELF vmlinux), the Kindling initramfs,
/// the shared read-only base rootfs of one flavour, and per-job ext4 overlays built from the job's
/// <c>workspace/</c> directory (never from the job directory itself, which holds FIFOs and sockets). The kernel is
/// Debian's cloud kernel on hardware KVM; where the host's KVM emulates guest kernel code (<paramref name="host"/>)
/// it is Kindling's own build, booted with the <c>Emulated</c> CPU template and its system-call switch.
/// </summary>
public sealed class ImageStoreProvider(ImageStore store, Flavour flavour, Func<KvmHost>? host = null, string guestKernel = "auto") : IImageProvider
{
    /// <summary>The CPU template for hosts whose KVM emulates guest kernel code.</summary>
    public const string EmulatedCpuTemplate = "Emulated";

    private readonly Lazy<KvmHost> _host = new(host ?? (() => new KvmHost(KvmHost.Unknown, "not probed")));

    /// <summary>The job directory's subfolder whose files become the guest's workspace.</summary>
    public const string WorkspaceFolder = "workspace";

    /// <param name="actionsRunner">The actions/runner release of the <see cref="Flavour.Github"/> image (<c>Kindling:Images:ActionsRunner</c>).</param>
    public static ImageStoreProvider ForStateDirectory(
        string stateDirectory, Flavour flavour = Flavour.Minimal, Func<KvmHost>? host = null, string guestKernel = "auto",
        Kindling.Images.ActionsRunner.ActionsRunnerSource? actionsRunner = null) =>
        new(new ImageStore(new ImageStoreOptions { CacheDirectory = Path.Combine(stateDirectory, "images"), ActionsRunner = actionsRunner }), flavour, host, guestKernel);

    /// <summary>The kernel to boot: <c>kindling</c>/<c>debian</c> as configured, or by the host's KVM for <c>auto</c>.</summary>
    public GuestKernel KernelFor(KvmHost kvm) => guestKernel.ToLowerInvariant() switch
    {
        "kindling" => GuestKernel.Kindling,
        "debian" => GuestKernel.Debian,
        _ => kvm.IsEmulated ? GuestKernel.Kindling : GuestKernel.Debian,
    };

    /// <summary>Whether the guest kernel is Kindling's own build (probes the host's KVM for <c>auto</c>, once).</summary>
    public bool BuildsKindlingKernel => KernelFor(_host.Value) == GuestKernel.Kindling;

    public async Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        var relay = progress is null ? null : new Relay(progress);
        try
        {
            KvmHost kvm = _host.Value;
            KernelArtifacts kernel = await store.EnsureKernelAsync(KernelFor(kvm), relay, ct);
            BaseImage baseImage = await store.EnsureBaseAsync(flavour, relay, ct);
            KernelCommandLine cmdline = kvm.IsEmulated ? GuestCommandLine.Create().ForEmulatedHost(kernel) : GuestCommandLine.Create();

            return new GuestImages(kernel.VmlinuxPath, kernel.InitramfsPath, baseImage.Path, cmdline.Build(), kvm.IsEmulated ? EmulatedCpuTemplate : null)
            {
                SlowBootNote = kvm.IsEmulated
                    ? $"this host's KVM emulates guest kernel code ({kvm.Detail}): a boot takes minutes here, on hardware KVM well under a second"
                    : null,
            };
        }
        catch (ImageBuildException e)
        {
            throw new ImagesUnavailableException(e.Message, e);
        }
    }

    /// <summary>
    /// Builds the overlay inside the job's work directory (staging included), not in the store's shared overlays/
    /// folder: whatever a crash leaves half-built goes with the work directory, which teardown and the reaper delete.
    /// </summary>
    public async Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
    {
        string workspace = Path.Combine(workDir, WorkspaceFolder);
        ImageStoreOptions o = store.Options;
        var inWorkDir = new ImageStore(new ImageStoreOptions
        {
            CacheDirectory = o.CacheDirectory, GuestDirectory = o.GuestDirectory, BusyboxPath = o.BusyboxPath, KernelPackage = o.KernelPackage,
            DebianSuite = o.DebianSuite, DebianMirror = o.DebianMirror, OverlaySizeBytes = o.OverlaySizeBytes, OverlayDirectory = workDir,
        });
        try
        {
            Overlay overlay = await inWorkDir.CreateOverlayAsync(Directory.Exists(workspace) ? workspace : null, cancellationToken: ct);
            return overlay.Path;
        }
        catch (Exception e) when (e is ImageBuildException or IOException && DiskFullException.Indicates(e))
        {
            throw new DiskFullException("building the overlay", workDir, e.Message, e);
        }
        catch (ImageBuildException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public void DeleteOverlay(string overlayPath) => File.Delete(overlayPath);

    public IReadOnlyList<ImageFile> List() =>
        [.. store.List().Select(i => new ImageFile(i.Kind, i.Name, i.Path, i.SizeBytes, i.AllocatedBytes, i.Created, RecordedHash(i.Path)))];

    /// <summary>The first word of the image's <c>.sha256</c> sidecar, when the cache wrote one.</summary>
    private static string? RecordedHash(string path)
    {
        try
        {
            return File.ReadAllText(path + ImageStore.HashSuffix).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class Relay(IProgress<ImageProgress> target) : IProgress<Kindling.Images.ImageProgress>
    {
        public void Report(Kindling.Images.ImageProgress value) =>
            target.Report(new ImageProgress(value.Message, value.Fraction ?? 0));
    }
}
