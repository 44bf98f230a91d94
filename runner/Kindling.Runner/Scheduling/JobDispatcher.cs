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
/// fair-share within quotas and host capacity, and run each admitted job exactly once. A forge that fails is
/// skipped for that round (the GitHub client already retried with backoff); its jobs stay on the forge and are
/// picked up by a later poll, so nothing is lost and nothing is started twice.
/// </summary>
public sealed partial class JobDispatcher
{
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
    private readonly SemaphoreSlim _wake = new(0);

    public JobDispatcher(IOptions<KindlingOptions> options, JobStore store, ForgeRegistry forges, JobRunner runner, JobReaper reaper,
        KindlingMetrics metrics, TimeProvider time, ILogger<JobDispatcher> log)
    {
        (_options, _store, _forges, _runner, _reaper, _metrics, _time, _log) = (options, store, forges, runner, reaper, metrics, time, log);
        KindlingOptions o = options.Value;
        _scheduler = new FairShareScheduler(
            new HostCapacity(o.Host.Vcpus, o.Host.MemoryMib, o.Host.Oversubscription),
            o.Tenants.ToDictionary(t => t.Name, t => new TenantShare(t.Name, t.Quota.MaxVms, t.Quota.Vcpus, t.Quota.MemoryMib, t.Weight)));
    }

    /// <summary>Jobs this process is running now.</summary>
    public IReadOnlyCollection<long> ActiveJobs => [.. _active.Keys];

    /// <summary>Raised when a poll records a new job (benchmarks time poll → spawn from here).</summary>
    public event Action<long>? JobSeen;

    /// <summary>Asks the loop to poll now (webhook fast path).</summary>
    public void Wake() => _wake.Release();

    public async Task RunAsync(CancellationToken stopping)
    {
        await _reaper.ReapAfterRestartAsync(stopping);
        DateTimeOffset nextReap = _time.GetUtcNow() + _options.Value.ReapInterval;
        while (!stopping.IsCancellationRequested)
        {
            await PollAsync(stopping);
            AdmitAndStart(stopping);
            if (_time.GetUtcNow() >= nextReap)
            {
                nextReap = _time.GetUtcNow() + _options.Value.ReapInterval;
                await _reaper.ReapPeriodicAsync(new HashSet<long>(_active.Keys), stopping);
            }

            _metrics.UpdateStateCounts(_store.CountByState());
            try
            {
                using var delay = CancellationTokenSource.CreateLinkedTokenSource(stopping);
                delay.CancelAfter(_options.Value.PollInterval);
                await _wake.WaitAsync(delay.Token);
            }
            catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
            {
            }
        }

        await Task.WhenAll(_active.Values);
    }

    /// <summary>One poll of every forge; returns how many new jobs were recorded.</summary>
    public async Task<int> PollAsync(CancellationToken ct)
    {
        int created = 0;
        foreach (IForge forge in _forges.All)
        {
            IReadOnlyList<ForgeJob> jobs;
            try
            {
                jobs = await forge.PollQueuedAsync(ct);
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                LogPollFailed(_log, e, forge.Tenant);
                continue;
            }

            foreach (ForgeJob fj in jobs)
            {
                if (LabelMatcher.Match(fj.Labels, _options.Value.Pools) is not { } pool)
                {
                    continue; // not ours: another runner's labels
                }

                (JobRecord job, bool isNew) = _store.Enqueue(new NewJob
                {
                    Tenant = forge.Tenant, Forge = forge.Kind, ForgeJobId = fj.ForgeJobId, Repository = fj.Repository,
                    Name = fj.Name, Labels = fj.Labels, SpecJson = fj.Spec?.ToJson(), Vcpus = pool.Vcpus, MemoryMib = pool.MemoryMib,
                });
                if (isNew)
                {
                    created++;
                    _metrics.Transition(JobState.Queued);
                    JobSeen?.Invoke(job.Id);
                }
            }
        }

        return created;
    }

    /// <summary>Admits what fits and starts those jobs; returns the ids started.</summary>
    public IReadOnlyList<long> AdmitAndStart(CancellationToken stopping)
    {
        IReadOnlyList<JobRecord> queued = _store.ListByState(JobState.Queued);
        if (queued.Count == 0)
        {
            return [];
        }

        Dictionary<string, Usage> usage = [];
        foreach (JobRecord j in _store.ListByState(JobState.Preparing, JobState.Booting, JobState.Running))
        {
            usage[j.Tenant] = usage.GetValueOrDefault(j.Tenant).Add(new Demand(j.Id, j.Tenant, j.Vcpus, j.MemoryMib));
        }

        List<long> started = [];
        Dictionary<long, JobRecord> byId = queued.ToDictionary(j => j.Id);
        foreach (Demand d in _scheduler.Admit(queued.Select(j => new Demand(j.Id, j.Tenant, j.Vcpus, j.MemoryMib)), usage))
        {
            if (_active.ContainsKey(d.JobId))
            {
                continue;
            }

            try
            {
                _store.Transition(d.JobId, JobState.Queued, JobState.Preparing, "admitted");
            }
            catch (IllegalTransitionException)
            {
                continue; // someone else admitted or cancelled it
            }

            _metrics.Transition(JobState.Preparing);
            _metrics.QueueWait(_time.GetUtcNow() - byId[d.JobId].CreatedAt, d.Tenant);
            long id = d.JobId;
            _active[id] = Task.Run(async () =>
            {
                try
                {
                    return await _runner.RunAsync(id, stopping);
                }
                finally
                {
                    _active.TryRemove(id, out _);
                    _wake.Release(); // capacity freed: admit more now
                }
            }, CancellationToken.None);
            started.Add(id);
        }

        return started;
    }

    /// <summary>
    /// Admits one queued job now, outside the fair-share round, and runs it as <see cref="AdmitAndStart"/> would
    /// (for <c>kindling replay</c>: one person's one job, which must not pick up other queued jobs of the database).
    /// </summary>
    public Task<JobState> RunNowAsync(long jobId, CancellationToken stopping)
    {
        _store.Transition(jobId, JobState.Queued, JobState.Preparing, "admitted (run now)");
        _metrics.Transition(JobState.Preparing);
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "polling tenant {Tenant} failed; retrying next round")]
    private static partial void LogPollFailed(ILogger log, Exception e, string tenant);
}
