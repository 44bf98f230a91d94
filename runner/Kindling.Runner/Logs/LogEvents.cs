namespace Kindling.Runner.Logs;

/// <summary>How the guest said the job ended.</summary>
public sealed record JobEnd(bool Succeeded, int ExitCode);

/// <summary>Observer of a job's log as it is pumped (JobRunner for state, the admin page for a live tail).</summary>
public interface ILogObserver
{
    void OnJobStart() { }
    void OnStepStart(int n, string name) { }
    void OnStepEnd(int n, int exitCode, double? seconds) { }
    void OnStepSkip(int n, string name, string reason) { }
    void OnLine(long offset, string maskedLine) { }
    void OnAgentError(string message) { }
    void OnJobEnd(JobEnd end) { }
}
