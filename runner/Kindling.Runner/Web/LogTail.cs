using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>
/// A job's log as server-sent events, from a byte offset (the event id, so a reconnecting browser resumes where
/// it was): <c>log</c> events carry whole lines, read in chunks of up to <see cref="MaxChunkBytes"/> as fast as the
/// client takes them, so a chatty job is never out-run; <c>state</c> events carry the job's state when it changes;
/// one <c>end</c> event follows the last line of a finished job. The agent's framing lines are shown as readable
/// markers (<see cref="MarkerPrefix"/>). Reads the log file the LogPump writes (masked already); it never
/// holds the job up.
/// </summary>
public sealed class LogTail(JobStore store, IOptions<KindlingOptions> options, TimeProvider time)
{
    public const int MaxChunkBytes = 256 * 1024;
    public const string LogEvent = "log";
    public const string StateEvent = "state";
    public const string EndEvent = "end";

    /// <summary>Framing lines become "── step 1: Build ──" and the like; the page styles lines that start with it.</summary>
    public const string MarkerPrefix = "── ";

    public async IAsyncEnumerable<SseItem<string>> StreamAsync(long jobId, long from, [EnumeratorCancellation] CancellationToken ct)
    {
        string path = JobWorkspace.LogPath(options.Value.StateDirectory, jobId);
        long offset = Math.Max(0, from);
        string? lastState = null;
        while (!ct.IsCancellationRequested)
        {
            if (store.GetWithResult(jobId) is not { } j)
            {
                yield return new SseItem<string>("", EndEvent);
                yield break;
            }

            path = j.Job.LogPath ?? path;
            bool finished = JobLifecycle.IsFinished(j.Result) || JobLifecycle.IsTerminal(j.Result);
            string state = JobLifecycle.Name(j.Job.State) + "/" + JobLifecycle.Name(j.Result);
            if (state != lastState)
            {
                lastState = state;
                yield return new SseItem<string>(JsonSerializer.Serialize(new StateEventData(
                    JobLifecycle.Name(j.Job.State), JobLifecycle.Name(j.Result), finished, j.Job.ExitCode), StateEventJson.Default.StateEventData), StateEvent);
            }

            // The state was read before the file: a finished job's log is complete, so reading to its end and
            // finding nothing more means the tail is done.
            (string? text, long next) = ReadLines(path, offset, wholeFile: finished);
            if (text is not null)
            {
                offset = next;
                yield return new SseItem<string>(text, LogEvent) { EventId = next.ToString(System.Globalization.CultureInfo.InvariantCulture) };
                continue;
            }

            if (finished)
            {
                yield return new SseItem<string>("", EndEvent);
                yield break;
            }

            try
            {
                await Task.Delay(options.Value.Web.LogPollInterval, time, ct);
            }
            catch (OperationCanceledException)
            {
                yield break;
            }
        }
    }

    /// <summary>
    /// Up to <see cref="MaxChunkBytes"/> from <paramref name="offset"/>, cut after the last newline (a line still
    /// being written waits for the next read, unless <paramref name="wholeFile"/>); null when nothing new.
    /// </summary>
    public static (string? Text, long Next) ReadLines(string path, long offset, bool wholeFile)
    {
        byte[] buffer;
        int n;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (f.Length <= offset)
            {
                return (null, offset);
            }

            f.Seek(offset, SeekOrigin.Begin);
            buffer = new byte[(int)Math.Min(MaxChunkBytes, f.Length - offset)];
            n = f.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return (null, offset);
        }

        int end = Array.LastIndexOf(buffer, (byte)'\n', n - 1) + 1;
        if (end == 0)
        {
            if (!wholeFile && n < MaxChunkBytes)
            {
                return (null, offset); // one unfinished line: wait for its newline
            }

            end = n; // a line longer than a chunk, or the last line of a finished job without a newline
        }

        string raw = Encoding.UTF8.GetString(buffer, 0, end);
        return (Present(raw.EndsWith('\n') ? raw[..^1] : raw), offset + end);
    }

    /// <summary>The agent's framing lines as readable markers; output lines unchanged.</summary>
    public static string Present(string lines)
    {
        if (!lines.Contains(FramingLine.Prefix, StringComparison.Ordinal))
        {
            return lines;
        }

        var sb = new StringBuilder(lines.Length);
        foreach (string line in lines.Split('\n'))
        {
            if (sb.Length > 0)
            {
                sb.Append('\n');
            }

            sb.Append(FramingLine.TryParse(line) is { } c ? Marker(c) : line);
        }

        return sb.ToString();
    }

    private static string Marker(FramingLine c) => MarkerPrefix + c.Kind switch
    {
        "job-start" => "job started",
        "step-start" => $"step {c.Int("n") + 1}: {c.Text("name")}",
        "step-end" => $"step {c.Int("n") + 1} exited {c.Int("exit")}" + (c.Double("seconds") is { } s ? $" after {s:0.##} s" : ""),
        "step-skip" => $"step {c.Int("n") + 1} skipped: {c.Text("name")}",
        "error" => $"agent error: {c.Text("message")}",
        "job-end" => $"job ended: {c.Fields.GetValueOrDefault("result")} (exit {c.Int("exit")})",
        _ => c.Kind,
    };
}

public sealed record StateEventData(string State, string Result, bool Finished, int? ExitCode);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.SnakeCaseLower)]
[System.Text.Json.Serialization.JsonSerializable(typeof(StateEventData))]
internal sealed partial class StateEventJson : System.Text.Json.Serialization.JsonSerializerContext;
