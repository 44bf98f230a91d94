using System.Globalization;
using System.Text;

namespace Kindling.Runner.Logs;

/// <summary>
/// Reads a VM's serial output (the FIFO the VMM writes) line by line until end of stream: masks secrets, appends
/// each line to the job's log file, records an index (<c>log.idx</c>: one line per control event, with the log
/// offset where it happened) and tells an observer about steps and the job's end. Control lines are kept in the
/// log too, so the full log replays exactly; the index makes "jump to step n" cheap.
/// </summary>
public sealed class LogPump(SecretMasker masker, ILogObserver observer)
{
    public const int MaxLineBytes = 64 * 1024;

    /// <summary>The job end parsed from the framing, once seen.</summary>
    public JobEnd? End { get; private set; }

    public async Task RunAsync(Stream serial, string logPath, CancellationToken ct)
    {
        // Unbuffered: each line reaches the file as soon as it is read, so the admin page's live tail (which reads
        // the file) sees a steady trickle of output at once, not in 4 KiB steps. One write per line is cheap.
        await using var log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        await using var index = new StreamWriter(new FileStream(logPath + ".idx", FileMode.Append, FileAccess.Write, FileShare.Read));
        using var reader = new StreamReader(serial, Encoding.UTF8, detectEncodingFromByteOrderMarks: false, bufferSize: 16 * 1024);
        var utf8 = new UTF8Encoding(false);
        while (await reader.ReadLineAsync(ct) is { } raw)
        {
            string line = raw.Length > MaxLineBytes ? raw[..MaxLineBytes] + " [line truncated]" : raw;
            line = masker.Apply(line.TrimEnd('\r'));
            long offset = log.Position;
            byte[] bytes = utf8.GetBytes(line + "\n");
            await log.WriteAsync(bytes, ct);
            if (FramingLine.TryParse(line) is { } control)
            {
                await index.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{offset} {line[FramingLine.Prefix.Length..^1]}"));
                Dispatch(control);
            }
            else
            {
                observer.OnLine(offset, line);
            }

            if (reader.Peek() < 0)
            {
                // Nothing more buffered: make what we have visible to readers of the log (live tail).
                await log.FlushAsync(ct);
                await index.FlushAsync(ct);
            }
        }
    }

    private void Dispatch(FramingLine c)
    {
        switch (c.Kind)
        {
            case "job-start":
                observer.OnJobStart();
                break;
            case "step-start" when c.Int("n") is { } n:
                observer.OnStepStart(n, c.Text("name") ?? "");
                break;
            case "step-end" when c.Int("n") is { } n:
                observer.OnStepEnd(n, c.Int("exit") ?? -1, c.Double("seconds"));
                break;
            case "step-skip" when c.Int("n") is { } n:
                observer.OnStepSkip(n, c.Text("name") ?? "", c.Fields.GetValueOrDefault("reason") ?? "");
                break;
            case "error":
                observer.OnAgentError(c.Text("message") ?? "");
                break;
            case "job-end":
                End = new JobEnd(c.Fields.GetValueOrDefault("result") == "succeeded", c.Int("exit") ?? -1);
                observer.OnJobEnd(End);
                break;
        }
    }
}
