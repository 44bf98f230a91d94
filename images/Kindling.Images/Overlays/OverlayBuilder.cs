using Kindling.Images.Cache;
using Kindling.Images.Tools;

namespace Kindling.Images.Overlays;

/// <summary>
/// Creates per-job overlay images with <c>mkfs.ext4 -d</c> from a staging directory holding upper/workspace/… and
/// an empty work/. Refuses, before anything is booted, a workspace that would not fit the configured size. Secrets
/// never go here: they reach the guest only through MMDS.
/// </summary>
internal sealed class OverlayBuilder(string directory)
{
    public const string UpperDir = "upper";
    public const string WorkDir = "work";
    public const string WorkspaceDir = "workspace";
    public const string Label = "kindling-ovl";
    public const long MinSizeBytes = 8L << 20;

    /// <summary>Share of the image that ext4 metadata (inode tables, bitmaps, group descriptors) may take.</summary>
    private const double MetadataShare = 0.1;

    public async Task<Overlay> CreateAsync(Action<string> stage, long sizeBytes, CancellationToken ct)
    {
        if (sizeBytes < MinSizeBytes)
        {
            throw new ImageBuildException($"overlay size {sizeBytes} bytes is below the minimum {MinSizeBytes >> 20} MiB; raise the overlay size setting");
        }

        Directory.CreateDirectory(directory);
        using TempDirectory temp = new(directory);
        string staging = Path.Combine(temp.Path, "staging");
        string workspace = Path.Combine(staging, UpperDir, WorkspaceDir);
        Directory.CreateDirectory(workspace);
        Directory.CreateDirectory(Path.Combine(staging, WorkDir));
        stage(workspace);

        (long bytes, long inodes) = Ext4Image.Measure(staging);
        long budget = (long)(sizeBytes * (1 - MetadataShare));
        if (bytes > budget)
        {
            throw new ImageBuildException(
                $"the job's workspace needs ~{bytes >> 20} MiB ({inodes} files) but the overlay is limited to {sizeBytes >> 20} MiB " +
                $"(~{budget >> 20} MiB usable); shrink the workspace or raise the overlay size setting");
        }

        string tmpImage = Path.Combine(temp.Path, "overlay.ext4");
        await Ext4Image.CreateAsync(tmpImage, staging, sizeBytes, Label, inodes: null, ct);
        string final = Path.Combine(directory, $"overlay-{Guid.NewGuid():N}.ext4");
        File.Move(tmpImage, final);
        return new Overlay(final, sizeBytes, bytes);
    }

    /// <summary>Copies a workspace tree (files, directories, symlinks) into the staging workspace.</summary>
    public static void CopyTree(string source, string target)
    {
        if (!Directory.Exists(source))
        {
            throw new ImageBuildException($"workspace directory {source} does not exist");
        }

        foreach (FileSystemInfo e in new DirectoryInfo(source).EnumerateFileSystemInfos("*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
        {
            string dst = Path.Combine(target, Path.GetRelativePath(source, e.FullName));
            if (e.LinkTarget is { } link)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
                File.CreateSymbolicLink(dst, link);
            }
            else if (e is DirectoryInfo)
            {
                Directory.CreateDirectory(dst);
            }
            else
            {
                Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
                File.Copy(e.FullName, dst);
            }
        }
    }

    public static void WriteFiles(IEnumerable<OverlayFile> files, string target)
    {
        string root = Path.GetFullPath(target) + Path.DirectorySeparatorChar;
        foreach (OverlayFile f in files)
        {
            string dst = Path.GetFullPath(Path.Combine(target, f.RelativePath));
            if (!dst.StartsWith(root, StringComparison.Ordinal))
            {
                throw new ImageBuildException($"overlay file path '{f.RelativePath}' leaves the workspace");
            }

            Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
            File.WriteAllBytes(dst, f.Content.ToArray());
            UnixMode.Set(dst, f.Mode);
        }
    }
}
