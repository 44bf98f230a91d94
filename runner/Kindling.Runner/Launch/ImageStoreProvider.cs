using Kindling.Images;
using Kindling.Images.Overlays;
using Kindling.Images.Rootfs;

namespace Kindling.Runner.Launch;

/// <summary>
/// The runner's images from Kindling.Images: Debian's cloud kernel (booted as the extracted ELF vmlinux), the
/// Kindling initramfs, the shared read-only base rootfs of one flavour, and per-job ext4 overlays built from the
/// job's <c>workspace/</c> directory (never from the job directory itself, which holds FIFOs and sockets).
/// </summary>
public sealed class ImageStoreProvider(ImageStore store, Flavour flavour) : IImageProvider
{
    /// <summary>The job directory's subfolder whose files become the guest's workspace.</summary>
    public const string WorkspaceFolder = "workspace";

    /// <summary>The overlay's name in the job directory (teardown deletes <c>overlay*</c> there).</summary>
    public const string OverlayFileName = "overlay.ext4";

    public static ImageStoreProvider ForStateDirectory(string stateDirectory, Flavour flavour = Flavour.Minimal) =>
        new(new ImageStore(new ImageStoreOptions { CacheDirectory = Path.Combine(stateDirectory, "images") }), flavour);

    public async Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        var relay = progress is null ? null : new Relay(progress);
        try
        {
            KernelArtifacts kernel = await store.EnsureKernelAsync(relay, ct);
            BaseImage baseImage = await store.EnsureBaseAsync(flavour, relay, ct);
            return new GuestImages(kernel.VmlinuxPath, kernel.InitramfsPath, baseImage.Path, new KernelCommandLine().Build());
        }
        catch (ImageBuildException e)
        {
            throw new ImagesUnavailableException(e.Message, e);
        }
    }

    public async Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
    {
        string workspace = Path.Combine(workDir, WorkspaceFolder);
        try
        {
            Overlay overlay = await store.CreateOverlayAsync(Directory.Exists(workspace) ? workspace : null, cancellationToken: ct);
            // Into the job's directory: teardown (and the reaper after a crash) deletes overlays found there.
            string path = Path.Combine(workDir, OverlayFileName);
            File.Move(overlay.Path, path, overwrite: true);
            return path;
        }
        catch (ImageBuildException e)
        {
            throw new IOException(e.Message, e);
        }
    }

    public void DeleteOverlay(string overlayPath) => File.Delete(overlayPath);

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool and reorder lines).</summary>
    private sealed class Relay(IProgress<ImageProgress> target) : IProgress<Kindling.Images.ImageProgress>
    {
        public void Report(Kindling.Images.ImageProgress value) =>
            target.Report(new ImageProgress(value.Message, value.Fraction ?? 0));
    }
}
