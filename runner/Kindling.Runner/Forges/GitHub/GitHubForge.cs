using System.Globalization;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// One tenant's GitHub repositories: queued runs → their queued jobs; one JIT runner per job (registered at the
/// organization when configured, else the repository). GitHub reports job results itself through the runner.
/// </summary>
public sealed partial class GitHubForge(TenantOptions tenant, GitHubClient client, ILogger<GitHubForge> log) : IForge
{
    /// <summary>The default runner group every organization and repository has.</summary>
    public const long DefaultRunnerGroupId = 1;

    private readonly Dictionary<(string Repo, long Run), IReadOnlyList<WorkflowJob>> _jobsByRun = [];

    public string Kind => "github";

    public string Tenant => tenant.Name;

    public GitHubClient Client => client;

    public async Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct)
    {
        List<ForgeJob> found = [];
        foreach (string repo in tenant.Forge.Repositories)
        {
            GitHubResponse<WorkflowRunList> runs = await client.ListQueuedRunsAsync(repo, ct);
            foreach (WorkflowRun run in runs.Value.WorkflowRuns)
            {
                GitHubResponse<WorkflowJobList> jobs = await client.ListRunJobsAsync(repo, run.Id, ct);
                _jobsByRun[(repo, run.Id)] = jobs.Value.Jobs;
                found.AddRange(jobs.Value.Jobs
                    .Where(j => j.Status == "queued")
                    .Select(j => new ForgeJob(j.Id.ToString(CultureInfo.InvariantCulture), repo, j.Name, j.Labels, null)));
            }

            // Runs that left the queued list are forgotten.
            foreach ((string, long) key in _jobsByRun.Keys.Where(k => k.Repo == repo && runs.Value.WorkflowRuns.All(r => r.Id != k.Run)).ToList())
            {
                _jobsByRun.Remove(key);
            }
        }

        return found;
    }

    public async Task<ForgeJobStatus> GetStatusAsync(JobRecord job, CancellationToken ct)
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

    public async Task<RunnerRegistration?> RegisterRunnerAsync(JobRecord job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct)
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

        LogRegistered(log, jit.Runner.Name, jit.Runner.Id, job.Id);
        return new RunnerRegistration(jit.Runner.Id, jit.Runner.Name, jit.EncodedJitConfig);
    }

    public Task RemoveRunnerAsync(JobRecord job, long runnerId, CancellationToken ct) =>
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

    public Task ReportResultAsync(JobRecord job, JobState result, CancellationToken ct) => Task.CompletedTask;

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
