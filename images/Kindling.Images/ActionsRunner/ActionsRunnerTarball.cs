using System.Formats.Tar;
using System.IO.Compression;

namespace Kindling.Images.ActionsRunner;

/// <summary>A verified actions/runner tarball in the image cache.</summary>
public sealed record ActionsRunnerTarball(string Path, string Version, string Sha256, long Length);

/// <summary>
/// Checks that a .tar.gz is laid out as an actions/runner release: <c>run.sh</c> and <c>bin/Runner.Listener</c> at its
/// top (entries are written <c>./run.sh</c> in the official tarball).
/// </summary>
internal static class RunnerTarballLayout
{
    public static readonly string[] RequiredEntries = ["run.sh", "bin/Runner.Listener"];

    /// <summary>The required entries missing from <paramref name="path"/>; throws <see cref="InvalidDataException"/> when it is no .tar.gz.</summary>
    public static async Task<IReadOnlyList<string>> MissingEntriesAsync(string path, CancellationToken ct)
    {
        HashSet<string> missing = new(RequiredEntries, StringComparer.Ordinal);
        await using FileStream file = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
        await using GZipStream gz = new(file, CompressionMode.Decompress);
        await using TarReader tar = new(gz);
        while (missing.Count > 0 && await tar.GetNextEntryAsync(copyData: false, ct) is { } entry)
        {
            if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile or TarEntryType.SymbolicLink)
            {
                missing.Remove(Normalize(entry.Name));
            }
        }

        return [.. RequiredEntries.Where(missing.Contains)];
    }

    private static string Normalize(string name)
    {
        while (name.StartsWith("./", StringComparison.Ordinal))
        {
            name = name[2..];
        }

        return name.TrimStart('/');
    }
}
