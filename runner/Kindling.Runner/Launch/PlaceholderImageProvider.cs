namespace Kindling.Runner.Launch;

/// <summary>
/// Empty stand-in image files, for the stub launcher (tests, benchmarks, crash-recovery drills): no VM boots
/// from them, but every path the pipeline writes into the VM config exists and every overlay is a real file
/// that teardown must delete. What the stand-in base image holds is a folder beside it,
/// <c>rootfs.placeholder.d/</c> (<see cref="FilesOf"/>), empty unless a test puts files there (an actions runner
/// at <c>opt/actions-runner/run.sh</c>, say): the stub launcher's guest sees those files and nothing else.
/// </summary>
public sealed class PlaceholderImageProvider(string directory) : IImageProvider
{
    /// <summary>The files of the stand-in base image (created empty by <see cref="EnsureImagesAsync"/>).</summary>
    public string ImageFiles => FilesOf(Path.Combine(directory, "rootfs.placeholder"));

    /// <summary>Where the stand-in image at <paramref name="rootfsPath"/> keeps its files.</summary>
    public static string FilesOf(string rootfsPath) => rootfsPath + ".d";

    public Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        string kernel = Path.Combine(directory, "vmlinux.placeholder");
        string rootfs = Path.Combine(directory, "rootfs.placeholder");
        Directory.CreateDirectory(FilesOf(rootfs));
        foreach (string p in (string[])[kernel, rootfs])
        {
            if (!File.Exists(p))
            {
                File.WriteAllBytes(p, []);
            }
        }

        progress?.Report(new ImageProgress("placeholder images", 1));
        return Task.FromResult(new GuestImages(kernel, null, rootfs, "console=ttyS0"));
    }

    public Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
    {
        string path = Path.Combine(workDir, "overlay.placeholder");
        File.WriteAllBytes(path, []);
        return Task.FromResult(path);
    }

    public void DeleteOverlay(string overlayPath) => File.Delete(overlayPath);

    public IReadOnlyList<ImageFile> List() =>
        [.. ((string[])[Path.Combine(directory, "vmlinux.placeholder"), Path.Combine(directory, "rootfs.placeholder")])
            .Where(File.Exists)
            .Select(p => new FileInfo(p))
            .Select(f => new ImageFile(f.Name.StartsWith("vmlinux", StringComparison.Ordinal) ? "kernel" : "base", f.Name, f.FullName, f.Length, f.Length,
                f.LastWriteTimeUtc, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f.FullName)))))];
}
