using System.Collections.Concurrent;
using System.Globalization;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// One tenant's GitHub repositories: the queued jobs of queued runs, and of in-progress runs (a job that waits on
/// <c>needs:</c> becomes queued while its run is in progress); one JIT runner per job (registered at the organization
/// when configured, else the repository). GitHub reports job results itself through the runner.
/// </summary>
/// <remarks>
/// In-progress runs are polled only while they are younger than <see cref="GitHubOptions.InProgressRunWindow"/>, so a
/// run that stays in progress for days is not listed on every poll; the window's start is rounded down to the hour so
/// the list's URL (and its ETag) stays the same between polls, and every list is conditional (a 304 costs no quota).
/// The <c>workflow_job</c> webhook is the fast path and reaches older runs too: <see cref="NoteQueuedJob"/> marks the
/// run for the next poll.
/// </remarks>
public sealed partial class GitHubForge(TenantOptions tenant, GitHubClient client, ILogger<GitHubForge> log) : IForge
{
    /// <summary>The default runner group every organization and repository has.</summary>
    public const long DefaultRunnerGroupId = 1;

    private readonly ConcurrentDictionary<(string Repo, long Run), byte> _hintedRuns = new();

    public string Kind => "github";

    public string Tenant => tenant.Name;

    public GitHubClient Client => client;

    /// <summary>
    /// A <c>workflow_job</c> webhook said a job of <paramref name="runId"/> is queued: the next poll lists that run's
    /// jobs whatever its age. False when <paramref name="repository"/> is not one of this tenant's.
    /// </summary>
    public bool NoteQueuedJob(string repository, long runId)
    {
        string? repo = tenant.Forge.Repositories.FirstOrDefault(r => string.Equals(r, repository, StringComparison.OrdinalIgnoreCase));
        if (repo is null)
        {
            return false;
        }

        _hintedRuns[(repo, runId)] = 0;
        return true;
    }

    public async Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct)
    {
        List<ForgeJob> found = [];
        DateTimeOffset? since = InProgressSince();
        foreach (string repo in tenant.Forge.Repositories)
        {
            IEnumerable<long> runs = (await client.ListRunsAsync(repo, "queued", null, ct)).Value.WorkflowRuns.Select(r => r.Id);
            if (since is not null)
            {
                runs = runs.Concat((await client.ListRunsAsync(repo, "in_progress", since, ct)).Value.WorkflowRuns.Select(r => r.Id));
            }

            runs = runs.Concat(_hintedRuns.Keys.Where(k => k.Repo == repo).Select(k => k.Run));
            foreach (long run in runs.Distinct().ToList())
            {
                GitHubResponse<WorkflowJobList> jobs;
                try
                {
                    jobs = await client.ListRunJobsAsync(repo, run, ct);
                }
                catch (GitHubApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound)
                {
                    _hintedRuns.TryRemove((repo, run), out _); // deleted since it was listed or named
                    continue;
                }

                _hintedRuns.TryRemove((repo, run), out _);
                found.AddRange(jobs.Value.Jobs
                    .Where(j => j.Status == "queued")
                    .Select(j => new ForgeJob(j.Id.ToString(CultureInfo.InvariantCulture), repo, j.Name, j.Labels, null)));
            }
        }

        return found;
    }

    /// <summary>The oldest creation time of in-progress runs still polled, rounded down to the hour; null: none are.</summary>
    private DateTimeOffset? InProgressSince()
    {
        TimeSpan window = client.Options.InProgressRunWindow;
        if (window <= TimeSpan.Zero)
        {
            return null;
        }

        DateTimeOffset start = client.Time.GetUtcNow() - window;
        return new DateTimeOffset(start.Year, start.Month, start.Day, start.Hour, 0, 0, TimeSpan.Zero);
    }

    public async Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct)
    {
        try
        {
            WorkflowJob j = await client.GetJobAsync(job.Repository, long.Parse(job.ForgeJobId, CultureInfo.InvariantCulture), ct);
            return j switch
            {
                { Status: "completed", Conclusion: "cancelled" } => ForgeJobStatus.Cancelled,
                { Status: "completed" } => ForgeJobStatus.Completed,
                { Status: "in_progress" } => ForgeJobStatus.InProgress,
                _ => ForgeJobStatus.Queued,
            };
        }
        catch (GitHubApiException e) when (e.Status == System.Net.HttpStatusCode.NotFound)
        {
            return ForgeJobStatus.Gone;
        }
    }

    public async Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct)
    {
        JitConfigResponse jit;
        try
        {
            jit = await client.GenerateJitConfigAsync(
                Scope(job.Repository), new JitConfigRequest(runnerName, DefaultRunnerGroupId, labels, "_work"), ct);
        }
        catch (Exception e) when (IsTransient(e) && !ct.IsCancellationRequested)
        {
            throw new ForgeUnavailableException($"GitHub could not register runner {runnerName}: {e.Message}", e);
        }

        LogRegistered(log, jit.Runner.Name, jit.Runner.Id, job.JobId);
        return new RunnerRegistration(jit.Runner.Id, jit.Runner.Name, jit.EncodedJitConfig);
    }

    public Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct) =>
        client.DeleteRunnerAsync(Scope(job.Repository), runnerId, ct);

    public async Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct)
    {
        List<ForgeRunner> all = [];
        foreach (RunnerScope scope in Scopes())
        {
            RunnerList list = await client.ListRunnersAsync(scope, ct);
            all.AddRange(list.Runners.Select(r => new ForgeRunner(r.Id, r.Name, r.Busy, r.Status)));
        }

        return all;
    }

    public async Task RemoveRunnerAsync(long runnerId, CancellationToken ct)
    {
        foreach (RunnerScope scope in Scopes())
        {
            if (await client.DeleteRunnerAsync(scope, runnerId, ct))
            {
                return;
            }
        }
    }

    public Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct) => Task.CompletedTask;

    /// <summary>Errors left after the client's retries that say "later", not "never".</summary>
    private static bool IsTransient(Exception e) => e switch
    {
        GitHubApiException api => api.IsTransient,
        HttpRequestException or Polly.Timeout.TimeoutRejectedException or TimeoutException => true,
        TaskCanceledException { InnerException: TimeoutException } => true,
        _ => false,
    };

    private RunnerScope Scope(string repository) =>
        tenant.Forge.Organization is { Length: > 0 } org ? RunnerScope.Organization(org) : RunnerScope.Repository(repository);

    private IEnumerable<RunnerScope> Scopes() =>
        tenant.Forge.Organization is { Length: > 0 } org
            ? [RunnerScope.Organization(org)]
            : tenant.Forge.Repositories.Select(RunnerScope.Repository);

    [LoggerMessage(Level = LogLevel.Information, Message = "registered JIT runner {Name} (id {RunnerId}) for job {JobId}")]
    private static partial void LogRegistered(ILogger log, string name, long runnerId, long jobId);
}
