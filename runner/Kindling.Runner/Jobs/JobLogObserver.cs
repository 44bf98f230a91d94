using Kindling.Runner.Logs;

namespace Kindling.Runner.Jobs;

/// <summary>Turns the pumped framing into JobStore updates (steps) and signals for the JobRunner.</summary>
internal sealed class JobLogObserver(JobStore store, long jobId, ILogObserver? next) : ILogObserver
{
    private readonly Dictionary<int, string> _names = [];

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
        store.RecordStep(jobId, new StepRecord(n, name, null, null, false));
        next?.OnStepStart(n, name);
    }

    public void OnStepEnd(int n, int exitCode, double? seconds)
    {
        store.RecordStep(jobId, new StepRecord(n, _names.GetValueOrDefault(n, $"step {n}"), exitCode, seconds, false));
        next?.OnStepEnd(n, exitCode, seconds);
    }

    public void OnStepSkip(int n, string name, string reason)
    {
        store.RecordStep(jobId, new StepRecord(n, name, null, null, true));
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
