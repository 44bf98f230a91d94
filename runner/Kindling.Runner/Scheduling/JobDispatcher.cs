using System.Collections.Concurrent;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Kindling.Runner.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Scheduling;

/// <summary>
/// The daemon's loop: poll every tenant's forge, record matching jobs (once per forge job), admit queued jobs
/// fair-share within quotas and host capacity, and run each admitted job exactly once at a time.
/// <para>
/// Forges are polled concurrently, each on its own schedule, so one slow or unreachable forge delays nobody
/// else. A forge whose poll fails (after the GitHub client's own retries) is skipped for an exponentially growing,
/// jittered interval (<see cref="Backoff"/>); its jobs stay on the forge and a later poll picks them up, so
/// nothing is lost, and the JobStore's one row per forge job means nothing is started twice. A job the runner
/// re-queued because its forge was unavailable while it was prepared waits out a backoff of its own.
/// </para>
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Reliability", "CA1001", Justification =
    "_wake is a SemaphoreSlim whose AvailableWaitHandle is never used: it holds no handle, and a Wake() after shutdown must not throw")]
public sealed partial class JobDispatcher
{
    /// <summary>The longest a failing forge goes unpolled.</summary>
    public static readonly TimeSpan MaxPollBackoff = TimeSpan.FromMinutes(5);

    /// <summary>The longest a re-queued job waits before it may be admitted again.</summary>
    public static readonly TimeSpan MaxRequeueBackoff = TimeSpan.FromMinutes(10);

    private readonly IOptions<KindlingOptions> _options;
    private readonly JobStore _store;
    private readonly ForgeRegistry _forges;
    private readonly JobRunner _runner;
    private readonly JobReaper _reaper;
    private readonly KindlingMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<JobDispatcher> _log;
    private readonly FairShareScheduler _scheduler;
    private readonly ConcurrentDictionary<long, Task<JobState>> _active = new();
    private readonly ConcurrentDictionary<long, DateTimeOffset> _notBefore = new();
    private readonly Dictionary<string, ForgePoll> _polls = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private readonly HostDrain _drain;
    private readonly Lock _admission = new();
    private readonly FleetMembership _fleet;
    private readonly FleetHealth _health;
    private readonly Launch.Snapshots.WarmPool? _warm;
    private volatile bool _pollNow;

    public JobDispatcher(IOptions<KindlingOptions> options, JobStore store, ForgeRegistry forges, JobRunner runner, JobReaper reaper,
        KindlingMetrics metrics, HostDrain drain, FleetMembership fleet, FleetHealth health, TimeProvider time, ILogger<JobDispatcher> log,
        Launch.Snapshots.WarmPool? warm = null)
    {
        (_options, _store, _forges, _runner, _reaper, _metrics, _drain, _time, _log) = (options, store, forges, runner, reaper, metrics, drain, time, log);
        (_fleet, _health, _warm) = (fleet, health, warm);
        if (warm is not null)
        {
            warm.JobsOnHost = JobsOnHost;
            warm.CapacityGate = _admission;
        }

        KindlingOptions o = options.Value;
        _scheduler = new FairShareScheduler(
            new HostCapacity(o.Host.Vcpus, o.Host.MemoryMib, o.Host.Oversubscription),
            o.Tenants.ToDictionary(t => t.Name, t => new TenantShare(t.Name, t.Quota.MaxVms, t.Quota.Vcpus, t.Quota.MemoryMib, t.Weight)));
    }

    /// <summary>Each tenant's latest admission by this host (a sequence number), the scheduler's tie-break.</summary>
    private readonly Dictionary<string, long> _lastAdmitted = new(StringComparer.Ordinal);
    private long _admissions;

    /// <summary>Jobs this process is running now.</summary>
    public IReadOnlyCollection<long> ActiveJobs => [.. _active.Keys];

    /// <summary>Raised when a poll records a new job (benchmarks time poll → spawn from here).</summary>
    public event Action<long>? JobSeen;

    /// <summary>
    /// Asks the loop to poll every forge now (webhook fast path): on any host of a fleet, whoever holds the tenant's
    /// poller lease (the store records each forge job once, so the extra poll cannot start a job twice).
    /// </summary>
    public void Wake()
    {
        _pollNow = true;
        _wake.Release();
    }

    public async Task RunAsync(CancellationToken stopping)
    {
        try
        {
            await RunLoopAsync(stopping);
        }
        finally
        {
            if (_warm is not null)
            {
                await _warm.DisposeAsync(); // the slots are killed: nothing is left when the daemon stops
            }
        }
    }

    private async Task RunLoopAsync(CancellationToken stopping)
    {
        _fleet.Register();
        await _reaper.ReapAfterRestartAsync(stopping);
        _warm?.Refill();
        Task membership = _fleet.RunAsync(stopping);
        DateTimeOffset nextReap = _time.GetUtcNow() + _options.Value.ReapInterval;
        while (!stopping.IsCancellationRequested)
        {
            try
            {
                StartDuePolls(stopping);
                AdmitAndStart(stopping);
                if (_time.GetUtcNow() >= nextReap)
                {
                    nextReap = _time.GetUtcNow() + _options.Value.ReapInterval;
                    await _reaper.ReapPeriodicAsync(new HashSet<long>(_active.Keys), stopping, UnavailableTenants());
                }

                _metrics.UpdateStateCounts(_store.CountByState().ToDictionary(kv => JobLifecycle.Name(kv.Key), kv => kv.Value, StringComparer.Ordinal));
            }
            catch (Exception e) when (FleetHealth.IsStoreFailure(e))
            {
                // The database is away: running jobs go on, nothing new is admitted until a heartbeat gets through.
                if (_health.Lost(e.Message, _time.GetUtcNow()))
                {
                    LogStoreFailed(_log, e);
                }
            }

            try
            {
                using var interval = new CancellationTokenSource(_options.Value.PollInterval, _time);
                using var delay = CancellationTokenSource.CreateLinkedTokenSource(stopping, interval.Token);
                await _wake.WaitAsync(delay.Token);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
            }
        }

        Task[] polls;
        lock (_polls)
        {
            polls = [.. _polls.Values.Select(p => p.InFlight).OfType<Task>()];
        }

        await Task.WhenAll(polls);
        await Task.WhenAll(_active.Values);
        await membership;
    }

    /// <summary>One poll of every forge now (concurrently, ignoring backoff); returns how many new jobs were recorded.</summary>
    public async Task<int> PollAsync(CancellationToken ct)
    {
        int[] created = await Task.WhenAll(_forges.All.Select(async forge =>
        {
            try
            {
                return await PollForgeAsync(forge, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogPollFailed(_log, e, forge.Tenant, TimeSpan.Zero);
                return 0;
            }
        }));
        return created.Sum();
    }

    /// <summary>Starts a poll of each forge that is due and has none in flight; each wakes the loop when it ends.</summary>
    private void StartDuePolls(CancellationToken stopping)
    {
        DateTimeOffset now = _time.GetUtcNow();
        bool pollNow = _pollNow;
        _pollNow = false;
        lock (_polls)
        {
            foreach (IForge forge in _forges.All)
            {
                if (!_polls.TryGetValue(forge.Tenant, out ForgePoll? poll))
                {
                    _polls[forge.Tenant] = poll = new ForgePoll();
                }

                if (poll.InFlight is null && (pollNow || now >= poll.Next) && (pollNow || HoldsPoller(forge.Tenant)))
                {
                    poll.InFlight = Task.Run(() => PollScheduledAsync(forge, poll, stopping), CancellationToken.None);
                }
            }
        }
    }

    private async Task PollScheduledAsync(IForge forge, ForgePoll poll, CancellationToken stopping)
    {
        Exception? failure = null;
        try
        {
            await PollForgeAsync(forge, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            failure = e;
        }

        TimeSpan next = _options.Value.PollInterval;
        lock (_polls)
        {
            poll.Failures = failure is null ? 0 : poll.Failures + 1;
            if (failure is not null)
            {
                next = Backoff.Delay(poll.Failures, _options.Value.PollInterval, MaxPollBackoff, Random.Shared.NextDouble());
            }

            poll.Next = _time.GetUtcNow() + next;
            poll.InFlight = null;
        }

        if (failure is not null)
        {
            LogPollFailed(_log, failure, forge.Tenant, next);
        }

        _wake.Release(); // new jobs may be queued: admit now
    }

    /// <summary>
    /// On a shared store, whether this host holds (or now takes) the lease on polling <paramref name="tenant"/>'s forge:
    /// one host polls each tenant, and another takes over when the holder stops renewing (it died or lost the database).
    /// </summary>
    private bool HoldsPoller(string tenant) =>
        !_store.IsShared || _store.TryHoldPoller(tenant, _fleet.HostName, _fleet.Lease);

    /// <summary>Tenants whose forge is in poll backoff now (the reaper's runner sweep skips them).</summary>
    private HashSet<string> UnavailableTenants()
    {
        lock (_polls)
        {
            return [.. _polls.Where(p => p.Value.Failures > 0).Select(p => p.Key)];
        }
    }

    /// <summary>Polls the forge of one tenant (a re-run was submitted to it); 0 when the tenant has none.</summary>
    public Task<int> PollTenantAsync(string tenant, CancellationToken ct) =>
        _forges.TryGet(tenant, out IForge forge) ? PollForgeAsync(forge, ct) : Task.FromResult(0);

    /// <summary>Polls one forge and records its new jobs (the admin page's re-run submits to one local forge).</summary>
    public async Task<int> PollForgeAsync(IForge forge, CancellationToken ct)
    {
        int created = 0;
        foreach (ForgeJob fj in await forge.PollQueuedAsync(ct))
        {
            if (LabelMatcher.Match(fj.Labels, _options.Value.Pools) is not { } pool)
            {
                continue; // not ours: another runner's labels
            }

            (JobRecord job, bool isNew) = _store.Enqueue(new NewJob
            {
                Tenant = forge.Tenant, Forge = forge.Kind, ForgeJobId = fj.ForgeJobId, Repository = fj.Repository,
                Name = fj.Name, Labels = fj.Labels, SpecJson = fj.SpecJson, Vcpus = pool.Vcpus, MemoryMib = pool.MemoryMib,
            });
            if (isNew)
            {
                created++;
                _metrics.Transition(JobLifecycle.Name(JobState.Queued));
                JobSeen?.Invoke(job.Id);
            }
        }

        return created;
    }

    /// <summary>
    /// Admits what fits and starts those jobs; returns the ids started. Nothing is admitted while the host is
    /// drained. One admission at a time (the loop, the demo and the admin page's re-run may all ask).
    /// </summary>
    public IReadOnlyList<long> AdmitAndStart(CancellationToken stopping)
    {
        lock (_admission)
        {
            if (_drain.IsDrained || _fleet.DrainedBy is not null || !_health.CanAdmit)
            {
                if (_warm is { Enabled: true } && (_drain.IsDrained || _fleet.DrainedBy is not null))
                {
                    _ = _warm.SuspendAsync("the host is drained"); // a drained host runs nothing new: its slots would only hold memory
                }

                return [];
            }

            IReadOnlyList<long> admitted = Admit();
            foreach (long id in admitted)
            {
                Start(id, stopping);
            }

            _warm?.Resume(); // refills what the jobs took, when the host has room
            return admitted;
        }
    }

    /// <summary>
    /// Admission alone: the fair-share decision over the queue (jobs in requeue backoff excepted) and, for each job
    /// it admits, the JobStore's compare-and-set transition queued → preparing. Starts nothing: the caller starts
    /// each returned job exactly once (<see cref="AdmitAndStart"/> does).
    /// </summary>
    public IReadOnlyList<long> Admit()
    {
        DateTimeOffset now = _time.GetUtcNow();
        string host = _fleet.HostName;
        HostRecord? me = _fleet.Me;
        IReadOnlyList<HostRecord> others = _fleet.OtherLiveHosts;
        Dictionary<long, JobRecord> byId = [];
        Dictionary<string, long> lastAdmitted;
        lock (_lastAdmitted)
        {
            lastAdmitted = new Dictionary<string, long>(_lastAdmitted, StringComparer.Ordinal);
        }

        IReadOnlyList<JobRecord> admitted = _store.Admit(host, (waiting, live) =>
        {
            // Only what this host's pools serve: on a fleet whose hosts have different pools, another host's job waits for it.
            List<JobRecord> queued = [.. waiting.Where(j => !_active.ContainsKey(j.Id)
                && (!_notBefore.TryGetValue(j.Id, out DateTimeOffset notBefore) || notBefore <= now)
                && LabelMatcher.Match(j.Labels, _options.Value.Pools) is not null)];
            if (queued.Count == 0)
            {
                return [];
            }

            // Quotas and shares count every host's VMs; capacity only this host's.
            Dictionary<string, Usage> usage = [];
            Usage mine = Usage.Zero;
            foreach (JobRecord j in live)
            {
                var d = new Demand(j.Id, j.Tenant, j.Vcpus, j.MemoryMib);
                usage[j.Tenant] = usage.GetValueOrDefault(j.Tenant).Add(d);
                if (j.Host == host || (!_store.IsShared && j.Host is null))
                {
                    mine = mine.Add(d);
                }
            }

            foreach (JobRecord j in queued)
            {
                byId[j.Id] = j;
            }

            // Warm slots hold their VMs' share of the host; a job that will take one is charged nothing more there.
            IReadOnlyDictionary<string, int>? ready = null;
            if (_warm is { Enabled: true })
            {
                (int v, int m) = _warm.Reserved;
                mine = new Usage(mine.Vms, mine.Vcpus + v, mine.MemoryMib + m);
                ready = _warm.Unclaimed();
            }

            IEnumerable<Demand> picked = _scheduler.Admit(
                queued.Select(j => new Demand(j.Id, j.Tenant, j.Vcpus, j.MemoryMib, LabelMatcher.Match(j.Labels, _options.Value.Pools)?.Name)),
                usage, mine, lastAdmitted, ready);
            if (_store.IsShared && me is not null && others.Count > 0)
            {
                picked = Placement.Prefer(picked, me, others, live, id => now - byId[id].CreatedAt, _options.Value.PollInterval * 2);
            }

            return picked.Select(d => d.JobId);
        }, $"admitted by {host}");

        lock (_lastAdmitted)
        {
            foreach (JobRecord j in admitted)
            {
                _lastAdmitted[j.Tenant] = ++_admissions;
            }
        }

        foreach (JobRecord j in admitted)
        {
            _metrics.Transition(JobLifecycle.Name(JobState.Preparing));
            _metrics.QueueWait(now - j.CreatedAt, j.Tenant);
            if (_warm is { Enabled: true } && LabelMatcher.Match(j.Labels, _options.Value.Pools) is { } pool)
            {
                _warm.Claim(pool.Name, j.Id); // the slot the scheduler counted the job in
            }
        }

        return [.. admitted.Select(j => j.Id)];
    }

    /// <summary>The vCPUs and memory of the jobs this host runs now (the warm pool refills only beside them).</summary>
    private (int Vcpus, int MemoryMib) JobsOnHost()
    {
        string host = _fleet.HostName;
        IEnumerable<JobRecord> mine = _store.ListByState(JobState.Preparing, JobState.Booting, JobState.Running)
            .Where(j => j.Host == host || (!_store.IsShared && j.Host is null));
        return mine.Aggregate((0, 0), (a, j) => (a.Item1 + j.Vcpus, a.Item2 + j.MemoryMib));
    }

    /// <summary>Runs an admitted job in the background; when it is re-queued it waits out a jittered backoff first.</summary>
    private void Start(long id, CancellationToken stopping)
    {
        var registered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _active[id] = Task.Run(async () =>
        {
            await registered.Task; // so the finally below never runs before this task is in _active
            try
            {
                JobState state = await _runner.RunAsync(id, stopping);
                if (state == JobState.Queued && _store.Get(id) is { State: JobState.Queued } again)
                {
                    TimeSpan wait = Backoff.Delay(again.Attempt - 1, _options.Value.PollInterval, MaxRequeueBackoff, Random.Shared.NextDouble());
                    _notBefore[id] = _time.GetUtcNow() + wait;
                    LogRequeued(_log, id, again.Attempt, wait);
                }
                else
                {
                    _notBefore.TryRemove(id, out _);
                }

                return state;
            }
            finally
            {
                _active.TryRemove(id, out _);
                _wake.Release(); // capacity freed: admit more now
            }
        }, CancellationToken.None);
        registered.SetResult();
    }

    /// <summary>
    /// Admits one queued job now, outside the fair-share round, and runs it as <see cref="AdmitAndStart"/> would
    /// (for <c>kindling replay</c>: one person's one job, which must not pick up other queued jobs of the database).
    /// </summary>
    public Task<JobState> RunNowAsync(long jobId, CancellationToken stopping)
    {
        _store.Transition(jobId, JobState.Queued, JobState.Preparing, "admitted (run now)", host: _fleet.HostName);
        _metrics.Transition(JobLifecycle.Name(JobState.Preparing));
        Task<JobState> run = _active[jobId] = Task.Run(async () =>
        {
            try
            {
                return await _runner.RunAsync(jobId, stopping);
            }
            finally
            {
                _active.TryRemove(jobId, out _);
            }
        }, CancellationToken.None);
        return run;
    }

    /// <summary>Waits until no job of this process is running.</summary>
    public async Task WaitIdleAsync()
    {
        while (!_active.IsEmpty)
        {
            await Task.WhenAll(_active.Values);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "polling tenant {Tenant} failed; next poll of that forge in {Backoff}")]
    private static partial void LogPollFailed(ILogger log, Exception e, string tenant, TimeSpan backoff);

    [LoggerMessage(Level = LogLevel.Error, Message = "the job database failed; this host admits nothing until it answers again (running jobs go on)")]
    private static partial void LogStoreFailed(ILogger log, Exception e);

    [LoggerMessage(Level = LogLevel.Information, Message = "job {JobId} re-queued; attempt {Attempt} may start in {Wait}")]
    private static partial void LogRequeued(ILogger log, long jobId, int attempt, TimeSpan wait);

    /// <summary>One forge's polling schedule (guarded by the dictionary's lock).</summary>
    private sealed class ForgePoll
    {
        public Task? InFlight { get; set; }
        public DateTimeOffset Next { get; set; }
        public int Failures { get; set; }
    }
}
