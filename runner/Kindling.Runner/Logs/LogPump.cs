using System.Globalization;
using System.Text;

namespace Kindling.Runner.Logs;

/// <summary>
/// Reads a VM's serial output (the FIFO the VMM writes) line by line until end of stream: masks secrets, appends
/// each line to the job's log file, records an index (<c>log.idx</c>: one line per control event, with the log
/// offset where it happened) and tells an observer about steps and the job's end. Control lines are kept in the
/// log too, so the full log replays exactly; the index makes "jump to step n" cheap.
/// <para>
/// Lines are assembled from reads of any size (a line, a UTF-8 character or a secret may be split across reads).
/// Memory is bounded: a line longer than <see cref="MaxLineLength"/> characters is cut there and the rest of it
/// dropped up to its newline; the pump holds up to the longest secret beyond the cut, so a secret crossing the cut
/// is masked whole, never half shown. The pump reads only as fast as it writes the log, so a slow disk or observer
/// holds the guest back through the pipe (the VMM's serial back-pressure) instead of growing a buffer here.
/// </para>
/// </summary>
public sealed class LogPump(SecretMasker masker, ILogObserver observer)
{
    public const int MaxLineLength = 64 * 1024;
    public const string TruncatedMarker = " [line truncated]";
    private const int ReadBytes = 16 * 1024;

    /// <summary>The job end parsed from the framing, once seen.</summary>
    public JobEnd? End { get; private set; }

    /// <summary>
    /// Reads GitHub's workflow commands from the output of a running step (host-driven jobs): <c>::add-mask::</c>
    /// joins the masker before its own line is written, the others go to <see cref="ILogObserver.OnWorkflowCommand"/>
    /// with their value masked. Null: no command is processed (a GitHub job's runner processes its own).
    /// </summary>
    public WorkflowCommandReader? Commands { get; init; }

    /// <summary>
    /// Whether step N may use <c>::set-env</c> and <c>::add-path</c> (GitHub disabled them: only with
    /// ACTIONS_ALLOW_UNSECURE_COMMANDS=true in the step's environment); null: never.
    /// </summary>
    public Func<int, bool>? UnsecureCommandsAllowed { get; init; }

    private int? _step;

    public async Task RunAsync(Stream serial, string logPath, CancellationToken ct)
    {
        // Unbuffered: each line reaches the file as soon as it is read, so the admin page's live tail (which reads
        // the file) sees a steady trickle of output at once, not in 4 KiB steps. One write per line is cheap.
        await using var log = new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.Asynchronous);
        await using var index = new StreamWriter(new FileStream(logPath + ".idx", FileMode.Append, FileAccess.Write, FileShare.Read));
        var utf8 = new UTF8Encoding(false);
        Decoder decoder = utf8.GetDecoder();
        int hold = MaxLineLength + masker.LongestValue;
        var line = new StringBuilder();
        bool truncated = false;
        byte[] bytes = new byte[ReadBytes];
        char[] chars = new char[utf8.GetMaxCharCount(ReadBytes)];

        async Task EmitAsync()
        {
            string text = line.ToString();
            if (!truncated && text.EndsWith('\r'))
            {
                text = text[..^1];
            }

            WorkflowCommand? command = _step is not null && !truncated ? Commands?.Read(text) : null;
            if (command is { Name: WorkflowCommand.AddMask } && command.Value.Trim().Length > 0)
            {
                masker.Add(command.Value); // before its own line is written: the value never reaches the log
            }

            string masked = truncated ? masker.Apply(text, MaxLineLength) + TruncatedMarker
                : text.StartsWith(FramingLine.Prefix, StringComparison.Ordinal) ? FramingLine.Masked(text, masker) : masker.Apply(text);
            line.Clear();
            truncated = false;
            long offset = log.Position;
            await log.WriteAsync(utf8.GetBytes(masked + "\n"), ct);
            if (FramingLine.TryParse(masked) is { } control)
            {
                await index.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{offset} {masked[FramingLine.Prefix.Length..^1]}"));
                Dispatch(control);
            }
            else
            {
                observer.OnLine(offset, masked);
                if (command is not null && _step is { } step)
                {
                    if (command.Name is WorkflowCommand.SetEnv or WorkflowCommand.AddPath && UnsecureCommandsAllowed?.Invoke(step) != true)
                    {
                        // As GitHub: refused, with the reason in the log, and the step's environment unchanged.
                        string refused = $"kindling: the `{command.Name}` command is disabled: use $GITHUB_{(command.Name == WorkflowCommand.SetEnv ? "ENV" : "PATH")} instead, " +
                                         "or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true in the step's or job's env to allow it";
                        long at = log.Position;
                        await log.WriteAsync(utf8.GetBytes(refused + "\n"), ct);
                        observer.OnLine(at, refused);
                        command = command with { Name = WorkflowCommand.Error, Value = refused };
                    }

                    observer.OnWorkflowCommand(step, command with { Value = masker.Apply(command.Value) });
                }
            }
        }

        int n;
        while ((n = await serial.ReadAsync(bytes, ct)) > 0)
        {
            int count = decoder.GetChars(bytes, 0, n, chars, 0, flush: false);
            int start = 0;
            while (start < count)
            {
                int newline = Array.IndexOf(chars, '\n', start, count - start);
                int end = newline < 0 ? count : newline;
                int room = hold - line.Length;
                if (end - start > room)
                {
                    line.Append(chars, start, Math.Max(0, room));
                    truncated = true; // the rest of this line is dropped up to its newline
                }
                else
                {
                    line.Append(chars, start, end - start);
                }

                if (line.Length > MaxLineLength)
                {
                    truncated = true;
                }

                if (newline < 0)
                {
                    break;
                }

                await EmitAsync();
                start = newline + 1;
            }

            // What was read is in the log now: visible to readers of it (live tail).
            await log.FlushAsync(ct);
            await index.FlushAsync(ct);
        }

        int rest = decoder.GetChars(bytes, 0, 0, chars, 0, flush: true);
        line.Append(chars, 0, rest);
        if (line.Length > 0 || truncated)
        {
            await EmitAsync();
            await log.FlushAsync(ct);
            await index.FlushAsync(ct);
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
                _step = n;
                Commands?.StepStarted();
                observer.OnStepStart(n, c.Text("name") ?? "");
                break;
            case "step-end" when c.Int("n") is { } n:
                if (c.Fields.GetValueOrDefault(FramingLine.StepEndedField) is { Length: > 0 } endedBy)
                {
                    observer.OnStepStopped(n, endedBy);
                }

                _step = null;
                observer.OnStepEnd(n, c.Int("exit") ?? -1, c.Double("seconds"));
                break;
            case "step-files" when c.Int("n") is { } n:
                observer.OnStepFiles(n, StepFiles.From(c));
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
