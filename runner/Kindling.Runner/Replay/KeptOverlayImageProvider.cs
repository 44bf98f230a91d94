using System.Collections.Concurrent;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>kindling replay --keep</c>: the job's overlay disk (its <c>/upper/workspace</c> holds the workspace as the job
/// left it) is moved to <paramref name="keepDirectory"/> at teardown instead of deleted. Everything else of the VM
/// is released as usual.
/// </summary>
public sealed class KeptOverlayImageProvider(IImageProvider inner, string keepDirectory) : IImageProvider
{
    private readonly ConcurrentQueue<string> _kept = new();

    /// <summary>Where kept overlays went, in order.</summary>
    public IReadOnlyCollection<string> Kept => _kept;

    public Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct) => inner.EnsureImagesAsync(progress, ct);

    public Task<string> CreateOverlayAsync(string workDir, CancellationToken ct) => inner.CreateOverlayAsync(workDir, ct);

    public void DeleteOverlay(string overlayPath)
    {
        if (!File.Exists(overlayPath))
        {
            return;
        }

        string job = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(overlayPath))) ?? "job";
        Directory.CreateDirectory(keepDirectory);
        string target = Path.Combine(keepDirectory, $"job-{job}-{Path.GetFileName(overlayPath)}");
        File.Move(overlayPath, target, overwrite: true);
        _kept.Enqueue(target);
    }
}
