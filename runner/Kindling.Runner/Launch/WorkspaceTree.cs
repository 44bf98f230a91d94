namespace Kindling.Runner.Launch;

/// <summary>Copies workspace trees: files (with their modes), directories and symbolic links (as links).</summary>
public static class WorkspaceTree
{
    /// <summary>Copies everything under <paramref name="source"/> into <paramref name="target"/> (created), skipping the named top-level entries.</summary>
    public static void Copy(string source, string target, params string[] skipTopLevel)
    {
        Directory.CreateDirectory(target);
        foreach (FileSystemInfo e in new DirectoryInfo(source).EnumerateFileSystemInfos())
        {
            if (!skipTopLevel.Contains(e.Name, StringComparer.Ordinal))
            {
                CopyEntry(e, Path.Combine(target, e.Name));
            }
        }
    }

    /// <summary>Copies one path relative to <paramref name="sourceRoot"/>; false when it does not exist (e.g. a deleted tracked file).</summary>
    public static bool CopyRelative(string sourceRoot, string relativePath, string targetRoot)
    {
        string src = Path.Combine(sourceRoot, relativePath);
        FileSystemInfo info = Directory.Exists(src) && new DirectoryInfo(src).LinkTarget is null ? new DirectoryInfo(src) : new FileInfo(src);
        if (!info.Exists && info.LinkTarget is null)
        {
            return false;
        }

        string dst = Path.Combine(targetRoot, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(dst)!);
        CopyEntry(info, dst);
        return true;
    }

    private static void CopyEntry(FileSystemInfo e, string dst)
    {
        if (e.LinkTarget is { } link)
        {
            File.CreateSymbolicLink(dst, link);
        }
        else if (e is DirectoryInfo d)
        {
            Copy(d.FullName, dst, ".git");
        }
        else
        {
            File.Copy(e.FullName, dst); // keeps the mode bits (executables stay executable)
        }
    }
}
