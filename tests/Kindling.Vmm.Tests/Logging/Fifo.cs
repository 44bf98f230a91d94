namespace Kindling.Vmm.Tests.Logging;

internal static class Fifo
{
    public static string Create(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        FdIo.MakeFifo(path); // 0600
        return path;
    }

    /// <summary>Opens the FIFO for reading (blocks until a writer opens it) and collects its lines until EOF.</summary>
    public static Task<List<string>> ReadLinesAsync(string path, Action<string>? onLine, CancellationToken ct) => Task.Run(async () =>
    {
        List<string> lines = [];
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 1));
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            line = line.TrimEnd('\r');
            lines.Add(line);
            onLine?.Invoke(line);
        }

        return lines;
    }, ct);
}
