namespace Kindling.Runner.Launch;

/// <summary>The boot artefacts every VM shares.</summary>
/// <param name="BaseRootfsPath">The read-only base root filesystem (ext4), attached as the first drive.</param>
/// <param name="BootArgs">Kernel command line the images expect (console, init, overlay root).</param>
/// <param name="CpuTemplate">machine-config cpu_template for this kernel on this host (null: the VMM's default).</param>
public sealed record GuestImages(string KernelPath, string? InitrdPath, string BaseRootfsPath, string BootArgs, string? CpuTemplate = null)
{
    /// <summary>Why booting is slow here (shown to people), or null.</summary>
    public string? SlowBootNote { get; init; }
}

/// <summary>Progress of an image build, for the CLI's progress bar.</summary>
public sealed record ImageProgress(string Stage, double Fraction);

/// <summary>An image file on disk, for the admin page: what it is, how big, and its content hash when one is recorded.</summary>
/// <param name="Sha256">Hex SHA-256 of the content (from the image cache's sidecar), or null when none is kept.</param>
public sealed record ImageFile(string Kind, string Name, string Path, long SizeBytes, long AllocatedBytes, DateTimeOffset Created, string? Sha256);

/// <summary>
/// What the runner needs from the images library (Kindling.Images: kernel, initramfs, base rootfs, per-job
/// overlay). The runner depends only on this interface; the real adapter is wired at start-up.
/// </summary>
public interface IImageProvider
{
    /// <summary>Builds (first use) or finds the shared images.</summary>
    Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct);

    /// <summary>Creates the job's writable overlay disk under <paramref name="workDir"/>; returns its path.</summary>
    Task<string> CreateOverlayAsync(string workDir, CancellationToken ct);

    /// <summary>Deletes an overlay; succeeds when it is already gone.</summary>
    void DeleteOverlay(string overlayPath);

    /// <summary>The images present now (never builds anything).</summary>
    IReadOnlyList<ImageFile> List() => [];
}

/// <summary>What every owner of a work folder (a job's, a warm slot's) does with it at the end.</summary>
public static class ImageProviderExtensions
{
    /// <summary>
    /// Removes a work folder: its overlays through <paramref name="images"/> (which may keep or account for them), then
    /// the folder; succeeds when it is already gone.
    /// </summary>
    public static void DeleteWorkFolder(this IImageProvider images, string dir)
    {
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (string overlay in Directory.GetFiles(dir, "overlay*"))
        {
            images.DeleteOverlay(overlay);
        }

        Directory.Delete(dir, recursive: true);
    }
}

/// <summary>The images cannot be produced here; the message says why and what to do.</summary>
public sealed class ImagesUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
