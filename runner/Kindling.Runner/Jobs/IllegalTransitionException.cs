namespace Kindling.Runner.Jobs;

/// <summary>A state change the lifecycle table does not allow, or one based on a stale view of the job.</summary>
public sealed class IllegalTransitionException(long jobId, JobState actual, JobState? expected, JobState to)
    : InvalidOperationException(Describe(jobId, actual, expected, to))
{
    public long JobId { get; } = jobId;
    public JobState Actual { get; } = actual;
    public JobState To { get; } = to;

    private static string Describe(long jobId, JobState actual, JobState? expected, JobState to) =>
        expected is { } e && e != actual
            ? $"job {jobId}: expected state {JobLifecycle.Name(e)} but it is {JobLifecycle.Name(actual)}; refusing → {JobLifecycle.Name(to)}"
            : $"job {jobId}: {JobLifecycle.Name(actual)} → {JobLifecycle.Name(to)} is not a legal transition";
}
