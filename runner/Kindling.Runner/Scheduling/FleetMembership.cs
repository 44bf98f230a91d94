using System.Reflection;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Scheduling;

/// <summary>
/// This daemon as a host of the fleet: it registers (name, capacity, version, pool labels), heartbeats every third of
/// <c>Kindling:Store:HostLeaseTimeout</c>, acts on cancel requests other hosts left for its jobs, and takes over the
/// jobs of hosts silent for longer than the lease: per stage, a job that had not started goes back to the queue, one
/// that was running fails with the reason, their forge runners are removed and the host is marked gone. A heartbeat
/// that cannot reach the database stops this host's admissions (<see cref="FleetHealth"/>); its running VMs go on.
/// On one host's SQLite store the same loop keeps the hosts table of that one host.
/// </summary>
public sealed partial class FleetMembership(
    IOptions<KindlingOptions> options, JobStore store, ForgeRegistry forges, JobCancellations cancellations, FleetHealth health,
    TimeProvider time, ILogger<FleetMembership> log)
{
    private readonly HashSet<(long, string)> _cancelsDelivered = [];

    /// <summary>What a dead host may still hold: anything but a cleaned job, or one back in the queue.</summary>
    private static readonly JobState[] NotCleaned = [.. Enum.GetValues<JobState>().Where(s => s != JobState.Cleaned && s != JobState.Queued)];

    private volatile IReadOnlyList<HostRecord> _hosts = [];
    private volatile HostRecord? _me;
    private DateTimeOffset _reachableSince = DateTimeOffset.MaxValue;
    private string? _epoch;

    public string HostName { get; } = options.Value.EffectiveHostName;

    public TimeSpan Lease => options.Value.Store.HostLeaseTimeout;

    public TimeSpan HeartbeatInterval => Lease / 3;

    /// <summary>This host's row as of the last heartbeat (null before the first).</summary>
    public HostRecord? Me => _me;

    /// <summary>Who drained this host through the store (another host's admin page, the API); null when it takes jobs.</summary>
    public string? DrainedBy => _me?.DrainedBy;

    /// <summary>The other hosts that are live, heartbeating within the lease and not drained, as of the last heartbeat.</summary>
    public IReadOnlyList<HostRecord> OtherLiveHosts
    {
        get
        {
            DateTimeOffset cutoff = time.GetUtcNow() - Lease;
            return [.. _hosts.Where(h => h.Name != HostName && h.State == HostStates.Live && h.HeartbeatAt >= cutoff && h.DrainedBy is null)];
        }
    }

    public static string Version =>
        typeof(FleetMembership).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";

    /// <summary>Registers this host as live (at start; a host declared dead that comes back registers again).</summary>
    public void Register()
    {
        KindlingOptions o = options.Value;
        _me = store.RegisterHost(new HostRegistration(
            HostName, (int)Math.Floor(o.Host.Vcpus * o.Host.Oversubscription), o.Host.MemoryMib, Version,
            [.. o.Pools.SelectMany(p => p.Labels).Distinct(StringComparer.Ordinal)]));
        _hosts = store.Hosts();
        LogRegistered(log, HostName, store.Dialect.Kind, store.DatabasePath);
    }

    /// <summary>
    /// Records this host's drain in the store (null: undrained); the local marker file stays the durable record, so a
    /// database that does not answer now only delays what the other hosts see.
    /// </summary>
    public void SetDrain(string? by)
    {
        try
        {
            store.SetHostDrain(HostName, by);
            _me = store.GetHost(HostName) ?? _me;
        }
        catch (Exception e) when (FleetHealth.IsStoreFailure(e))
        {
            LogLeaveFailed(log, e.Message);
        }
    }

    /// <summary>Heartbeats until <paramref name="stopping"/>; then leaves (poller leases released, host marked stopped).</summary>
    public async Task RunAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            await TickAsync(stopping);
            try
            {
                await Task.Delay(HeartbeatInterval, time, stopping);
            }
            catch (OperationCanceledException)
            {
            }
        }

        try
        {
            store.ReleasePollers(HostName);
            store.SetHostState(HostName, HostStates.Stopped, $"daemon stopped at {time.GetUtcNow():u}");
        }
        catch (Exception e) when (FleetHealth.IsStoreFailure(e))
        {
            LogLeaveFailed(log, e.Message);
        }
    }

    /// <summary>One heartbeat: renew the lease, act on cancel requests, declare silent hosts dead and take over their jobs.</summary>
    public async Task TickAsync(CancellationToken ct)
    {
        try
        {
            HostRecord? me = store.Heartbeat(HostName);
            if (me is not { State: HostStates.Live })
            {
                LogDeclaredDead(log, HostName, me?.Detail ?? "no row");
                Register();
                me = _me;
            }

            _me = me;
            _hosts = store.Hosts();
            DateTimeOffset now = time.GetUtcNow();
            string epoch = store.ServerEpoch();
            if (health.Restored() | epoch != _epoch || _reachableSince == DateTimeOffset.MaxValue)
            {
                // Back after an outage (ours, or the server restarted): every host may have missed heartbeats meanwhile,
                // so nobody is judged dead until they have had a whole lease to heartbeat again.
                if (_epoch is not null || _reachableSince != DateTimeOffset.MaxValue)
                {
                    LogDatabaseBack(log, store.DatabasePath);
                }

                (_epoch, _reachableSince) = (epoch, now);
            }

            // Each request once: a second cancel of a job running steps stops its VM at once (JobRunner), which a
            // request still standing at the next heartbeat must not be taken for.
            HashSet<(long, string)> requests = [.. store.CancelRequests(HostName)];
            _cancelsDelivered.IntersectWith(requests);
            foreach ((long id, string reason) in requests.Where(r => !_cancelsDelivered.Contains(r)))
            {
                if (cancellations.TryCancel(id, reason))
                {
                    _cancelsDelivered.Add((id, reason));
                }
            }

            // From the list just read: hosts already dead (a takeover not finished), and, only when one looks silent,
            // those this heartbeat declares dead (the declaring write, under row locks, is not made on every heartbeat).
            List<string> dead = [.. _hosts.Where(h => h.State == HostStates.Dead).Select(h => h.Name)];
            if (now - _reachableSince >= Lease && _hosts.Any(h => h.Name != HostName && h.State == HostStates.Live && h.HeartbeatAt < now - Lease))
            {
                foreach (string declared in store.DeclareDeadHosts(HostName, Lease))
                {
                    LogHostDead(log, declared, Lease);
                    dead.Add(declared);
                }
            }

            await TakeOverAsync(dead, ct);
        }
        catch (Exception e) when (FleetHealth.IsStoreFailure(e))
        {
            if (health.Lost(e.Message, time.GetUtcNow()))
            {
                LogDatabaseLost(log, e, store.DatabasePath);
            }
        }
    }

    /// <summary>
    /// Takes over the jobs of <paramref name="deadHosts"/> (idempotent: each change is the store's compare-and-set, so
    /// two hosts doing it at once, or a takeover cut short and done again, leave every job changed once). A host whose
    /// jobs this pass all took over is gone; one with a job another host was changing, or whose forge failed, is looked
    /// at again at the next heartbeat.
    /// </summary>
    private async Task TakeOverAsync(IReadOnlyList<string> deadHosts, CancellationToken ct)
    {
        foreach (string dead in deadHosts.Distinct(StringComparer.Ordinal))
        {
            bool allTaken = true;
            foreach (JobRecord job in store.JobsOfHost(dead, NotCleaned))
            {
                try
                {
                    await TakeOverJobAsync(dead, job, ct);
                }
                catch (IllegalTransitionException)
                {
                    allTaken = false; // another host is taking it over
                }
                catch (Exception e) when (e is not OperationCanceledException && !FleetHealth.IsStoreFailure(e))
                {
                    allTaken = false;
                    LogTakeOverFailed(log, e, job.Id, dead); // the forge failed: the next heartbeat tries again
                }
            }

            if (allTaken && store.MarkHostGone(dead, "; its jobs were taken over"))
            {
                LogHostGone(log, dead, HostName);
            }
        }
    }

    private async Task TakeOverJobAsync(string dead, JobRecord job, CancellationToken ct)
    {
        IForge? forge = forges.TryGetForJob(job.Tenant, job.Forge, out IForge f) ? f : null; // a submitted job's result is not the tenant forge's to hear
        if (job.RunnerId is { } runnerId && forge is not null)
        {
            await forge.RemoveRunnerAsync(job.ForgeRef(), runnerId, ct); // before anything else: never two runners for one job
        }

        string why = $"host {dead} stopped heartbeating (lease {Lease.TotalSeconds:0.#} s); taken over by {HostName}";
        switch (job.State)
        {
            case JobState.Preparing or JobState.Booting:
                store.Transition(job.Id, job.State, JobState.Queued, $"re-queued: {why} while the job was {JobLifecycle.Name(job.State)} (no guest code had run)", heldBy: dead);
                LogRequeued(log, job.Id, dead);
                return;
            case JobState.Running:
                store.Transition(job.Id, JobState.Running, JobState.Failed, $"{why} while the job ran; its VM there is gone or is stopped when the host returns", heldBy: dead);
                if (forge is not null)
                {
                    await forge.ReportResultAsync(job.ForgeRef(), ForgeJobResult.Failed, ct);
                }

                LogFailed(log, job.Id, dead);
                break;
        }

        JobState finished = store.Get(job.Id)!.State;
        if (JobLifecycle.IsFinished(finished))
        {
            store.Transition(job.Id, finished, JobState.Cleaned, $"cleaned by {HostName}: {dead}'s forge runner removed; its local leftovers are swept by its reaper when it returns", heldBy: dead);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "host {Host} registered in the {Kind} job store {Where}")]
    private static partial void LogRegistered(ILogger log, string host, string kind, string where);

    [LoggerMessage(Level = LogLevel.Error, Message = "this host ({Host}) was declared dead by the fleet ({Detail}); its jobs were taken over; registering again")]
    private static partial void LogDeclaredDead(ILogger log, string host, string detail);

    [LoggerMessage(Level = LogLevel.Error, Message = "lost the job database {Where}: this host admits no jobs until it is back; running VMs go on")]
    private static partial void LogDatabaseLost(ILogger log, Exception e, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "the job database {Where} answers again: admitting jobs")]
    private static partial void LogDatabaseBack(ILogger log, string where);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host {Host} is dead: no heartbeat for {Lease}; taking over its jobs")]
    private static partial void LogHostDead(ILogger log, string host, TimeSpan lease);

    [LoggerMessage(Level = LogLevel.Warning, Message = "host {Host} is gone: its jobs were taken over by {By}")]
    private static partial void LogHostGone(ILogger log, string host, string by);

    [LoggerMessage(Level = LogLevel.Warning, Message = "job {JobId} of dead host {Host} re-queued")]
    private static partial void LogRequeued(ILogger log, long jobId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "job {JobId} of dead host {Host} failed: it was running there")]
    private static partial void LogFailed(ILogger log, long jobId, string host);

    [LoggerMessage(Level = LogLevel.Error, Message = "taking over job {JobId} of dead host {Host} failed; retrying at the next heartbeat")]
    private static partial void LogTakeOverFailed(ILogger log, Exception e, long jobId, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "leaving the fleet cleanly failed ({Reason}); the other hosts declare this one dead after its lease")]
    private static partial void LogLeaveFailed(ILogger log, string reason);
}
