namespace Kindling.Runner.Jobs;

/// <summary>Where a job is in its life. Stored by name in the <c>jobs.state</c> column.</summary>
public enum JobState
{
    Queued,
    Preparing,
    Booting,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    Cleaned,
}
