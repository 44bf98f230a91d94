
namespace Kindling.Vmm.Jail;

/// <summary>
/// Removes a jail's folder tree safely: first unmounts anything still mounted under it, then deletes entries
/// without ever following a symbolic link out of the tree.
/// </summary>
public static class JailTree
{
    /// <summary>What removing one tree found.</summary>
    public sealed record Removal(IReadOnlyList<string> Unmounted, int Files, int Directories, IReadOnlyList<string> FifosAndSockets);

    public static Removal Remove(string dir)
    {
        string root = Path.GetFullPath(dir).TrimEnd('/');
        List<string> unmounted = [];
        foreach (string mountPoint in MountPointsUnder(root).OrderByDescending(p => p.Length))
        {
            LibcJail.Unmount(mountPoint, LibcJail.MNT_DETACH);
            unmounted.Add(mountPoint);
        }

        int files = 0, dirs = 0;
        List<string> special = [];
        if (Directory.Exists(root) || File.Exists(root))
        {
            RemoveEntry(new DirectoryInfo(root), ref files, ref dirs, special);
        }

        return new Removal(unmounted, files, dirs, special);
    }

    /// <summary>Mount points at or below <paramref name="root"/> in this process's mount namespace.</summary>
    public static IReadOnlyList<string> MountPointsUnder(string root)
    {
        string prefix = root.TrimEnd('/') + "/";
        List<string> result = [];
        foreach (string line in File.ReadLines("/proc/self/mountinfo"))
        {
            // Field 5 is the mount point, with spaces and the like octal-escaped.
            string mountPoint = Unescape(line.Split(' ')[4]);
            if (mountPoint == root || mountPoint.StartsWith(prefix, StringComparison.Ordinal))
            {
                result.Add(mountPoint);
            }
        }

        return result;
    }

    private static void RemoveEntry(FileSystemInfo entry, ref int files, ref int dirs, List<string> special)
    {
        // A symbolic link (to a folder or anywhere) is removed as a link, never followed.
        bool isLink = entry.LinkTarget is not null;
        if (!isLink && entry is DirectoryInfo directory)
        {
            foreach (FileSystemInfo child in directory.EnumerateFileSystemInfos())
            {
                RemoveEntry(child, ref files, ref dirs, special);
            }

            directory.Delete();
            dirs++;
            return;
        }

        if (!isLink && LibcJail.FileType(entry.FullName) is LibcJail.S_IFIFO or LibcJail.S_IFSOCK)
        {
            special.Add(entry.FullName);
        }

        File.Delete(entry.FullName);
        files++;
    }

    private static string Unescape(string field) =>
        field.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
            .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
