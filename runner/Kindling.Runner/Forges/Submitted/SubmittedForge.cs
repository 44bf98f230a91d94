namespace Kindling.Runner.Forges;

/// <summary>
/// The forge of jobs given to the daemon itself (<c>POST /api/jobs</c>, <c>kindling submit</c>), for any tenant
/// whatever its own forge: the job is already in the JobStore (nothing to poll), runs its steps in the guest (no
/// runner to register), and keeps its result in the store. It is cancelled through the runner, not here, so it is
/// in progress for as long as it runs.
/// </summary>
public sealed class SubmittedForge(string tenant) : IForge
{
    /// <summary>The JobStore's forge column for submitted jobs, and the source the admin page shows.</summary>
    public const string KindName = "submitted";

    public string Kind => KindName;

    /// <summary>A fresh forge job id for a submitted job (one without an idempotency key, or a re-run).</summary>
    public static string NewJobId() => "sub-" + Guid.NewGuid().ToString("N");

    public string Tenant => tenant;

    public Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ForgeJob>>([]);

    public Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct) => Task.FromResult(ForgeJobStatus.InProgress);

    public Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct) =>
        Task.FromResult<RunnerRegistration?>(null);

    public Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct) => Task.CompletedTask;

    public Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ForgeRunner>>([]);

    public Task RemoveRunnerAsync(long runnerId, CancellationToken ct) => Task.CompletedTask;

    public Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct) => Task.CompletedTask;
}

/// <summary>The forge a job talks to: its tenant's, or <see cref="SubmittedForge"/> for a job submitted to the daemon.</summary>
public static class JobForges
{
    public static IForge ForJob(this ForgeRegistry forges, string tenant, string forgeKind)
    {
        ArgumentNullException.ThrowIfNull(forges);
        return forgeKind == SubmittedForge.KindName ? Submitted(forges, tenant) : forges.For(tenant);
    }

    public static bool TryGetForJob(this ForgeRegistry forges, string tenant, string forgeKind, out IForge forge)
    {
        ArgumentNullException.ThrowIfNull(forges);
        if (forgeKind == SubmittedForge.KindName && forges.TryGet(tenant, out _))
        {
            forge = new SubmittedForge(tenant);
            return true;
        }

        return forges.TryGet(tenant, out forge);
    }

    /// <summary>Only for a configured tenant: a job of a tenant removed from config fails as a forge job would.</summary>
    private static SubmittedForge Submitted(ForgeRegistry forges, string tenant)
    {
        _ = forges.For(tenant);
        return new SubmittedForge(tenant);
    }
}
