using System.Collections.Concurrent;

namespace Kindling.Runner.Forges.Local;

/// <summary>
/// Jobs given programmatically (the demo's sample job; replay builds on this with workflow YAML). Results are
/// kept here because there is no remote forge to report to.
/// </summary>
public sealed class LocalForge(string tenant) : IForge
{
    private readonly ConcurrentDictionary<string, ForgeJob> _queued = new();
    private readonly ConcurrentDictionary<string, ForgeJobStatus> _status = new();
    private readonly ConcurrentDictionary<string, ForgeJobResult> _results = new();
    private long _next;

    public string Kind => "local";

    public string Tenant => tenant;

    /// <summary>Queues a job given as the JSON of its spec (see <c>Jobs.LocalSubmissions</c>); returns its forge job id.</summary>
    public string Submit(string name, string specJson, IReadOnlyList<string> labels, string repository = "local")
    {
        string id = $"local-{Interlocked.Increment(ref _next)}-{Guid.NewGuid():N}"[..24];
        _queued[id] = new ForgeJob(id, repository, name, labels, specJson);
        _status[id] = ForgeJobStatus.Queued;
        return id;
    }

    /// <summary>Marks a job cancelled, as a user cancelling on a forge would.</summary>
    public void Cancel(string forgeJobId)
    {
        _queued.TryRemove(forgeJobId, out _);
        _status[forgeJobId] = ForgeJobStatus.Cancelled;
    }

    public ForgeJobResult? ResultOf(string forgeJobId) => _results.TryGetValue(forgeJobId, out ForgeJobResult s) ? s : null;

    public Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<ForgeJob>>([.. _queued.Values]);

    public Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct) =>
        Task.FromResult(_status.GetValueOrDefault(job.ForgeJobId, ForgeJobStatus.Gone));

    public Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct)
    {
        // The job is taken: it leaves the queue, as a GitHub job leaves it when a runner picks it up.
        _queued.TryRemove(job.ForgeJobId, out _);
        _status[job.ForgeJobId] = ForgeJobStatus.InProgress;
        return Task.FromResult<RunnerRegistration?>(null);
    }

    public Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct) => Task.CompletedTask;

    public Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct) => Task.FromResult<IReadOnlyList<ForgeRunner>>([]);

    public Task RemoveRunnerAsync(long runnerId, CancellationToken ct) => Task.CompletedTask;

    public Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct)
    {
        _results[job.ForgeJobId] = result;
        if (_status.GetValueOrDefault(job.ForgeJobId) != ForgeJobStatus.Cancelled)
        {
            _status[job.ForgeJobId] = ForgeJobStatus.Completed;
        }

        return Task.CompletedTask;
    }
}
