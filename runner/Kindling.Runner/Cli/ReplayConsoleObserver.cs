using System.Globalization;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Cli;

/// <summary>
/// The job's log as it streams, for the terminal: a header per step, its output (already masked by the LogPump),
/// its exit code and time; skipped steps; agent errors. Boot output before the agent starts is kept back (it is in
/// the job log) and shown only when the job never started.
/// </summary>
public sealed class ReplayConsoleObserver(TextWriter output, Func<int> stepCount) : ILogObserver
{
    public const int BootLinesKept = 20;
    private const string OutputIndent = "  ";

    private readonly Queue<string> _boot = new();
    private readonly object _lock = new();
    private readonly Dictionary<int, string> _names = [];
    private readonly Dictionary<int, string> _endedBy = [];

    public bool Started { get; private set; }

    /// <summary>The last boot lines (before the agent's job-start).</summary>
    public IReadOnlyList<string> BootTail { get { lock (_lock) return [.. _boot]; } }

    public void OnJobStart() => Write(() => Started = true);

    public void OnStepStart(int n, string name) => Write(() =>
    {
        Started = true;
        _names[n] = name;
        output.WriteLine($"▶ {Label(n)} {name}");
    });

    public void OnStepStopped(int n, string endedBy) => Write(() => _endedBy[n] = endedBy == FramingLine.EndedTimedOut ? "timed out" : endedBy);

    public void OnStepEnd(int n, int exitCode, double? seconds) => Write(() =>
    {
        string time = seconds is { } s ? ", " + s.ToString("0.00", CultureInfo.InvariantCulture) + " s" : "";
        string ended = _endedBy.TryGetValue(n, out string? why) ? why + ", " : "";
        output.WriteLine($"{(exitCode == 0 ? "✓" : "✗")} {Label(n)} {_names.GetValueOrDefault(n, $"step {n + 1}")} ({ended}exit {exitCode}{time})");
    });

    public void OnStepSkip(int n, string name, string reason) =>
        Write(() => output.WriteLine($"- {Label(n)} {name}: skipped ({(reason == "if" ? "its if: is false" : reason)})"));

    public void OnLine(long offset, string maskedLine) => Write(() =>
    {
        if (!Started)
        {
            _boot.Enqueue(maskedLine);
            if (_boot.Count > BootLinesKept)
            {
                _boot.Dequeue();
            }

            return;
        }

        output.WriteLine(OutputIndent + maskedLine);
    });

    public void OnAgentError(string message) => Write(() => output.WriteLine($"! guest agent error: {message}"));

    private string Label(int n) => $"[{n + 1}/{stepCount()}]";

    private void Write(Action a)
    {
        lock (_lock)
        {
            a();
            output.Flush();
        }
    }
}
