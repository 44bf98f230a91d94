namespace Kindling.Runner.Logs;

/// <summary>The text of a step's $GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_PATH, $GITHUB_STEP_SUMMARY and $GITHUB_STATE, as its step-files line gave them.</summary>
public sealed record StepFiles(string Output, string Env, string Path, string Summary, string State = "")
{
    public static StepFiles None { get; } = new("", "", "", "");

    public static StepFiles From(FramingLine c) => new(c.Text("output") ?? "", c.Text("env") ?? "", c.Text("path") ?? "", c.Text("summary") ?? "", c.Text("state") ?? "");
}

/// <summary>How the guest said the job ended.</summary>
public sealed record JobEnd(bool Succeeded, int ExitCode);

/// <summary>Observer of a job's log as it is pumped (JobRunner for state, the admin page for a live tail).</summary>
public interface ILogObserver
{
    void OnJobStart() { }
    void OnStepStart(int n, string name) { }
    void OnStepEnd(int n, int exitCode, double? seconds) { }
    /// <summary>Step n did not finish by itself: <paramref name="endedBy"/> is step-end's <c>ended</c> field (FramingLine.EndedCancelled or EndedTimedOut); comes just before its <see cref="OnStepEnd"/>.</summary>
    void OnStepStopped(int n, string endedBy) { }
    void OnStepSkip(int n, string name, string reason) { }
    /// <summary>Step n's command files (step-files line, after its step-end), already masked by the guest.</summary>
    void OnStepFiles(int n, StepFiles files) { }
    void OnLine(long offset, string maskedLine) { }
    /// <summary>A workflow command step n printed (its line came to <see cref="OnLine"/> first), its value masked; a refused ::set-env or ::add-path comes as an error.</summary>
    void OnWorkflowCommand(int n, WorkflowCommand command) { }
    void OnAgentError(string message) { }
    void OnJobEnd(JobEnd end) { }
}
