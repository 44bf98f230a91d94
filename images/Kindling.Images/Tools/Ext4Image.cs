namespace Kindling.Images.Tools;

/// <summary>
/// Writes ext4 images from a directory tree with <c>mkfs.ext4 -d</c>: no loop mount and no root needed. The image
/// file is created sparse at the given size. No journal: the base image is read-only and an overlay is discarded
/// with its VM, so a journal only costs space and creation time.
/// </summary>
internal static class Ext4Image
{
    public const long BlockSize = 4096;
    public const long InodeSize = 256;

    public static async Task CreateAsync(string image, string sourceTree, long sizeBytes, string label, long? inodes, CancellationToken ct)
    {
        long sizeKiB = (sizeBytes + 1023) / 1024;
        List<string> args = ["-F", "-q", "-t", "ext4", "-b", BlockSize.ToString(), "-I", InodeSize.ToString(), "-L", label,
            "-O", "^has_journal", "-E", "root_owner=0:0,nodiscard", "-m", "0"];
        if (inodes is { } n)
        {
            args.AddRange(["-N", n.ToString()]);
        }

        args.AddRange(["-d", sourceTree, image, sizeKiB + "k"]);
        await ProcessRunner.RunAsync("mkfs.ext4", args, cancellationToken: ct);
    }

    /// <summary>
    /// Bytes and inodes a tree will need in ext4 (4 KiB blocks, one inode each), without fs overhead. A symbolic link
    /// counts as itself, never as what it names: a Debian tree's /dev/fd links to /proc/self/fd, which is this host's.
    /// </summary>
    public static (long Bytes, long Inodes) Measure(string tree)
    {
        long bytes = 0, inodes = 1;
        var folders = new Stack<DirectoryInfo>([new DirectoryInfo(tree)]);
        var options = new EnumerationOptions { AttributesToSkip = 0, IgnoreInaccessible = false };
        while (folders.TryPop(out DirectoryInfo? folder))
        {
            foreach (FileSystemInfo e in folder.EnumerateFileSystemInfos("*", options))
            {
                inodes++;
                if (e.LinkTarget is not null)
                {
                    continue;
                }

                if (e is DirectoryInfo d)
                {
                    bytes += BlockSize;
                    folders.Push(d);
                }
                else if (e is FileInfo f)
                {
                    bytes += (f.Length + BlockSize - 1) / BlockSize * BlockSize;
                }
            }
        }

        return (bytes, inodes);
    }
}
