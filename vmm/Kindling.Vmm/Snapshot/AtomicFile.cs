namespace Kindling.Vmm.Snapshot;

/// <summary>
/// Writes a snapshot's files whole or not at all: the bytes go to a temporary file next to the target
/// (<c>path.PID.tmp</c>), are flushed to disk, and the file is renamed into place, so a reader never sees half a file
/// and a failed write leaves the previous file (if any) untouched.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Runs <paramref name="write"/> on the temporary file and renames it to <paramref name="path"/>. An I/O failure
    /// is thrown as <see cref="SnapshotException"/> naming <paramref name="field"/> (the API field that gave the path);
    /// on any failure the temporary file is removed.
    /// </summary>
    public static T Write<T>(string path, string field, Func<Stream, T> write, int bufferSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(write);
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            T result;
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize))
            {
                result = write(stream);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
            return result;
        }
        catch (Exception e)
        {
            TryDelete(temporary);
            if (e is IOException or UnauthorizedAccessException)
            {
                throw new SnapshotException($"{field} {path} cannot be written: {e.Message}", e);
            }

            throw;
        }
    }

    /// <summary>Deletes <paramref name="path"/> if it can; best effort (the temporary name says what it is).</summary>
    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort.
        }
    }
}
