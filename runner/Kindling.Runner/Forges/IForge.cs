namespace Kindling.Runner.Forges;

/// <summary>A job waiting on a forge.</summary>
/// <param name="ForgeJobId">The forge's id for the job: the idempotency key of the JobStore.</param>
/// <param name="SpecJson">The steps to run in the guest, as the JSON of a <c>Jobs.JobSpec</c> (what the JobStore keeps);
/// null for forges whose jobs run the forge's own runner (GitHub).</param>
public sealed record ForgeJob(string ForgeJobId, string Repository, string Name, IReadOnlyList<string> Labels, string? SpecJson);

/// <summary>
/// A job as its forge knows it: what <see cref="IForge"/> is told about a job instead of the runner's own record.
/// </summary>
/// <param name="ForgeJobId">The forge's id for the job (<see cref="ForgeJob.ForgeJobId"/>).</param>
/// <param name="Repository">The repository the job belongs to (<c>owner/name</c> on GitHub).</param>
/// <param name="JobId">The runner's id for the job, for the forge's log lines.</param>
public sealed record ForgeJobRef(string ForgeJobId, string Repository, long JobId);

/// <summary>How a job ended, as reported to a forge that does not learn it from its own runner.</summary>
public enum ForgeJobResult
{
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
}

/// <summary>What the forge says about a job now.</summary>
public enum ForgeJobStatus
{
    Queued,
    InProgress,
    Completed,
    Cancelled,
    /// <summary>The forge does not know the job (deleted, or another forge's).</summary>
    Gone,
}

/// <summary>A self-hosted runner registered for one job (GitHub JIT); its config goes only into MMDS.</summary>
public sealed record RunnerRegistration(long RunnerId, string RunnerName, string EncodedJitConfig);

/// <summary>A runner as listed by the forge.</summary>
public sealed record ForgeRunner(long Id, string Name, bool Busy, string Status);

/// <summary>Where jobs come from, for one tenant.</summary>
public interface IForge
{
    /// <summary>"github" or "local": the JobStore's forge column.</summary>
    string Kind { get; }

    string Tenant { get; }

    /// <summary>Jobs waiting for a runner now. May return jobs already seen: the JobStore de-duplicates.</summary>
    Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct);

    Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct);

    /// <summary>Registers an ephemeral runner for this job; null when the forge needs none (steps run directly).</summary>
    Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct);

    /// <summary>Removes a runner; succeeds when it is already gone.</summary>
    Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct);

    /// <summary>Runners this tenant has registered on the forge (for the reaper's orphan sweep).</summary>
    Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct);

    /// <summary>Removes a runner found by <see cref="ListRunnersAsync"/>.</summary>
    Task RemoveRunnerAsync(long runnerId, CancellationToken ct);

    /// <summary>The job's outcome, for forges that do not learn it from their own runner.</summary>
    Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct);
}
