namespace Kindling.Images.Overlays;

/// <summary>
/// A job's overlay drive: a sparse ext4 image with /upper (the overlayfs upper dir, holding the workspace at
/// /upper/workspace) and /work (overlayfs work dir). Attach it read-write as the second drive; dispose it after
/// the job to delete it.
/// </summary>
public sealed class Overlay : IDisposable
{
    internal Overlay(string path, long sizeBytes, long stagedBytes)
    {
        Path = path;
        SizeBytes = sizeBytes;
        StagedBytes = stagedBytes;
    }

    public string Path { get; }

    /// <summary>Apparent size of the image (sparse on disk).</summary>
    public long SizeBytes { get; }

    /// <summary>Estimated bytes the workspace takes inside the image.</summary>
    public long StagedBytes { get; }

    public void Dispose() => File.Delete(Path);
}
