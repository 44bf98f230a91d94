using Kindling.Runner.Logs;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Turns the pumped framing into JobStore updates (steps) and signals for the JobRunner. Steps are written in order on
/// a queue of their own, so a job database that is slow or restarting never holds up the log pump (and with it the
/// runner's view of the job's end); <see cref="Flushed"/> completes when every step seen so far is written.
/// </summary>
internal sealed class JobLogObserver(JobStore store, long jobId, ILogObserver? next, TimeProvider? time = null) : ILogObserver
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Dictionary<int, string> _names = [];
    private readonly Dictionary<int, DateTimeOffset> _started = [];
    private readonly Dictionary<int, string> _endedBy = [];
    private readonly Lock _gate = new();
    private Task _writes = Task.CompletedTask;

    /// <summary>Completes when the steps seen so far are in the store (a write that failed for good is dropped).</summary>
    public Task Flushed
    {
        get
        {
            lock (_gate)
            {
                return _writes;
            }
        }
    }

    private void Record(StepRecord step)
    {
        lock (_gate)
        {
            _writes = _writes.ContinueWith(
                _ => store.RecordStep(jobId, step), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default)
                .ContinueWith(_ => { }, TaskScheduler.Default); // a failed write (the database stayed away) does not stop the next
        }
    }

    public TaskCompletionSource JobStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource<JobEnd> JobEnded { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public string? AgentError { get; private set; }

    public void OnJobStart()
    {
        JobStarted.TrySetResult();
        next?.OnJobStart();
    }

    public void OnStepStart(int n, string name)
    {
        JobStarted.TrySetResult();
        _names[n] = name;
        DateTimeOffset now = _time.GetUtcNow();
        _started[n] = now;
        Record(new StepRecord(n, name, null, null, false, now));
        next?.OnStepStart(n, name);
    }

    public void OnStepStopped(int n, string endedBy)
    {
        _endedBy[n] = endedBy;
        next?.OnStepStopped(n, endedBy);
    }

    public void OnStepEnd(int n, int exitCode, double? seconds)
    {
        string outcome = _endedBy.GetValueOrDefault(n) switch
        {
            FramingLine.EndedCancelled => StepResults.Cancelled,
            FramingLine.EndedTimedOut => StepResults.TimedOut,
            _ => exitCode == 0 ? StepResults.Success : StepResults.Failure,
        };
        Record(new StepRecord(n, _names.GetValueOrDefault(n, $"step {n}"), exitCode, seconds, false,
            _started.TryGetValue(n, out DateTimeOffset started) ? started : null, _time.GetUtcNow(), outcome));
        next?.OnStepEnd(n, exitCode, seconds);
    }

    public void OnStepSkip(int n, string name, string reason)
    {
        Record(new StepRecord(n, name, null, null, true, Outcome: StepResults.Skipped));
        next?.OnStepSkip(n, name, reason);
    }

    public void OnStepFiles(int n, StepFiles files) => next?.OnStepFiles(n, files);

    public void OnLine(long offset, string maskedLine) => next?.OnLine(offset, maskedLine);

    public void OnAgentError(string message)
    {
        AgentError = message;
        next?.OnAgentError(message);
    }

    public void OnJobEnd(JobEnd end)
    {
        JobStarted.TrySetResult();
        JobEnded.TrySetResult(end);
        next?.OnJobEnd(end);
    }
}
