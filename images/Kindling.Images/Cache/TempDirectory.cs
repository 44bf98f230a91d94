using Kindling.Images.Tools;

namespace Kindling.Images.Cache;

/// <summary>
/// A scratch directory (".tmp-*") inside a cache folder, removed on dispose: builds happen here and their result
/// is renamed into place only when complete, so a failed or cancelled build leaves nothing behind.
/// </summary>
internal sealed class TempDirectory : IDisposable
{
    public const string Prefix = ".tmp-";

    public TempDirectory(string parent)
    {
        Path = System.IO.Path.Combine(parent, NewName());
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    /// <summary>A scratch name that records the owning process: ".tmp-PID-GUID".</summary>
    public static string NewName() => $"{Prefix}{Environment.ProcessId}-{Guid.NewGuid():N}";

    public void Dispose() => DeleteTree(Path);

    /// <summary>Deletes a tree that may hold read-only directories (debootstrap output, copied read-only files).</summary>
    public static void DeleteTree(string path)
    {
        if (!Directory.Exists(path))
        {
            return;
        }

        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            foreach (string d in Directory.EnumerateDirectories(path, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 }))
            {
                try
                {
                    UnixMode.Set(d, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
                catch (IOException)
                {
                }
            }

            Directory.Delete(path, recursive: true);
        }
    }

    /// <summary>
    /// Removes scratch directories and files left by a crashed build: those whose owning process is gone (a build
    /// running in another process is left alone).
    /// </summary>
    public static void SweepStale(string parent)
    {
        if (!Directory.Exists(parent))
        {
            return;
        }

        foreach (string d in Directory.GetDirectories(parent, Prefix + "*").Where(IsOrphan))
        {
            DeleteTree(d);
        }

        foreach (string f in Directory.GetFiles(parent, Prefix + "*").Where(IsOrphan))
        {
            File.Delete(f);
        }
    }

    private static bool IsOrphan(string path)
    {
        string name = System.IO.Path.GetFileName(path)[Prefix.Length..];
        int dash = name.IndexOf('-', StringComparison.Ordinal);
        return dash <= 0 || !int.TryParse(name[..dash], out int pid) || (pid != Environment.ProcessId && !Kindling.Native.ProcFs.Exists(pid));
    }
}
