namespace Kindling.Images.Cache;

/// <summary>Write-to-temp, fsync, rename: a reader sees either the old file or the complete new one.</summary>
internal static class AtomicFile
{
    public static async Task WriteAllBytesAsync(string path, ReadOnlyMemory<byte> bytes, CancellationToken ct)
    {
        string tmp = Path.Combine(Path.GetDirectoryName(path)!, TempDirectory.NewName() + "-" + Path.GetFileName(path));
        try
        {
            await using (FileStream f = new(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
            {
                await f.WriteAsync(bytes, ct);
                f.Flush(flushToDisk: true);
            }

            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    public static Task WriteAllTextAsync(string path, string text, CancellationToken ct) =>
        WriteAllBytesAsync(path, System.Text.Encoding.UTF8.GetBytes(text), ct);

    /// <summary>Flushes a finished file to disk.</summary>
    public static void Fsync(string path)
    {
        using FileStream f = new(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        f.Flush(flushToDisk: true);
    }

    /// <summary>Renames a completed directory into place (replacing nothing: a concurrent winner is kept).</summary>
    public static void PublishDirectory(string completed, string final)
    {
        try
        {
            Directory.Move(completed, final);
        }
        catch (IOException) when (Directory.Exists(final))
        {
            // Another builder published the same content first; ours is discarded with the temp directory.
        }
    }
}
