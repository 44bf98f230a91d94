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
        Path = System.IO.Path.Combine(parent, Prefix + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

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

    /// <summary>Removes scratch directories and files left by a crashed build.</summary>
    public static void SweepStale(string parent)
    {
        if (!Directory.Exists(parent))
        {
            return;
        }

        foreach (string d in Directory.GetDirectories(parent, Prefix + "*"))
        {
            DeleteTree(d);
        }

        foreach (string f in Directory.GetFiles(parent, Prefix + "*"))
        {
            File.Delete(f);
        }
    }
}
