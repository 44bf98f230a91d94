using System.Text.Json.Nodes;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Web;

// What the admin page and the JSON API show: one set of records for both (serialized snake_case).

public sealed record HostView(
    int Vcpus, int VcpuLimit, int MemoryMib, double Oversubscription, int UsedVcpus, int UsedMemoryMib, int RunningVms, bool Drained, string? DrainedBy);

/// <param name="OldestWaitSeconds">How long the oldest queued job has waited so far.</param>
/// <param name="RecentMedianWaitSeconds">Median seen → admitted over the last <see cref="RecentSamples"/> admissions.</param>
public sealed record QueueView(int Queued, double? OldestWaitSeconds, double? RecentMedianWaitSeconds, double? RecentMaxWaitSeconds, int RecentSamples);

/// <param name="Credential">The kind of credential only ("PAT from $ENV", "GitHub App 123"), never its value.</param>
/// <param name="SecretNames">Names of the tenant's secrets; their values are never shown.</param>
public sealed record TenantView(
    string Name, string ForgeKind, IReadOnlyList<string> Repositories, string? Organization, string Credential, IReadOnlyList<string> SecretNames,
    double Weight, int MaxVms, int QuotaVcpus, int QuotaMemoryMib, int Vms, int Vcpus, int MemoryMib, int Queued, bool Configured);

public sealed record JobView(
    long Id, string Tenant, string Forge, string ForgeJobId, string Repository, string Name, IReadOnlyList<string> Labels,
    string State, string Result, int Attempt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, int? ExitCode, string? VmId,
    int Vcpus, int MemoryMib)
{
    public static JobView From(JobWithResult j) => new(
        j.Job.Id, j.Job.Tenant, j.Job.Forge, j.Job.ForgeJobId, j.Job.Repository, j.Job.Name, j.Job.Labels,
        JobLifecycle.Name(j.Job.State), JobLifecycle.Name(j.Result), j.Job.Attempt, j.Job.CreatedAt, j.Job.UpdatedAt, j.Job.ExitCode,
        j.Job.VmId, j.Job.Vcpus, j.Job.MemoryMib);
}

public sealed record TransitionView(DateTimeOffset At, string? From, string To, string Reason);

/// <param name="ExitCode">Null while the step runs (or when it was skipped).</param>
/// <param name="StartedAt">When the runner read the step's start (null: skipped or not reached).</param>
/// <param name="EndedAt">When the runner read its end.</param>
/// <param name="Outcome">success, failure, cancelled, timed-out or skipped (Jobs.StepResults); null while it runs or not reached.</param>
public sealed record StepView(int Number, string Name, int? ExitCode, double? Seconds, bool Skipped, bool Pending,
    DateTimeOffset? StartedAt = null, DateTimeOffset? EndedAt = null, string? Outcome = null);

/// <param name="VmConfig">The VM's Firecracker-format config (no secrets: those live only in MMDS).</param>
/// <param name="RerunnableIfItFails">Still running, with steps a re-run could use: the page offers Re-run once it ends badly.</param>
public sealed record JobDetailView(
    JobView Job, string? RunnerName, int? VmmPid, string? TapName, IReadOnlyList<TransitionView> Timeline, IReadOnlyList<StepView> Steps,
    JsonObject? VmConfig, long? LogBytes, bool Cancellable, bool Rerunnable, bool RerunnableIfItFails = false)
{
    /// <summary>The phases of the job's VM (restore or boot, job received, first step, last step, reset), when recorded.</summary>
    public IReadOnlyList<Jobs.JobPhase> Phases { get; init; } = [];
}

/// <param name="RssKib">Resident memory of the VMM process (guest memory it touched plus its own).</param>
public sealed record VmView(string VmId, int Pid, double UptimeSeconds, long? JobId, string? Tenant, int? Vcpus, int? MemoryMib, long? RssKib)
{
    /// <summary>Its place in the guest network (address, egress policy, bytes in/out); null without one.</summary>
    public Network.GuestVmStatus? Network { get; init; }
}

public sealed record OverviewView(
    HostView Host, QueueView Queue, IReadOnlyDictionary<string, int> JobsByState, IReadOnlyList<TenantView> Tenants, IReadOnlyList<JobView> Recent)
{
    /// <summary>Golden snapshots (warm starts): null when warm starts are off.</summary>
    public IReadOnlyList<Launch.Snapshots.SnapshotStatus>? Snapshots { get; init; }

    /// <summary>Warm slots per pool with <c>Warm</c> set (target, ready, refilling, last refill error): null when no pool keeps any.</summary>
    public IReadOnlyList<Launch.Snapshots.WarmPoolStatus>? WarmPools { get; init; }
}

/// <summary>What an action did, for the flash message on the page and the API's answer.</summary>
/// <param name="JobId">The job acted on (for a re-run: the new job).</param>
/// <param name="NotFound">The job named does not exist.</param>
public sealed record AdminActionResult(bool Ok, string Message, long? JobId = null, bool NotFound = false);
