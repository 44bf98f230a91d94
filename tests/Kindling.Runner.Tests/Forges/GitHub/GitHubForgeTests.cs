using System.Globalization;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Tests.Forges.GitHub;

/// <summary>GitHubForge's polling against a fake that pages, holds several jobs per run and runs in progress.</summary>
public sealed class GitHubForgeTests : IAsyncLifetime
{
    private static readonly string[] PoolLabels = ["self-hosted", "kindling", "linux", "x64"];
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private readonly FakeTimeProvider _time = new(DateTimeOffset.UtcNow);
    private FakeGitHub _fake = null!;

    public async ValueTask InitializeAsync() => _fake = await FakeGitHub.StartAsync(_time);

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        _http.Dispose();
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private GitHubForge Forge(TimeSpan? window = null) => new(
        new TenantOptions { Name = "acme", Forge = new TenantForgeOptions { Repositories = ["acme/app"] } },
        new GitHubClient(_http, new GitHubOptions
        {
            BaseUrl = _fake.BaseUrl.ToString(), RetryBaseDelay = TimeSpan.FromMilliseconds(20), MaxRetries = 2,
            RequestTimeout = TimeSpan.FromMinutes(10), InProgressRunWindow = window ?? TimeSpan.FromHours(24),
        }, new PatTokenSource("ghp_test"), _time, NullLogger.Instance),
        NullLogger<GitHubForge>.Instance);

    private static string Id(FakeJob job) => job.Id.ToString(CultureInfo.InvariantCulture);

    [Fact]
    public async Task PollQueued_JobQueuedInsideInProgressRun_Found()
    {
        FakeRun run = _fake.QueueRun("acme/app", ("lint", PoolLabels), ("build", PoolLabels));
        FakeJob lint = _fake.Jobs.Single(j => j.Name == "lint");
        FakeJob build = _fake.Jobs.Single(j => j.Name == "build");
        _fake.AssignJob(lint.Id, "elsewhere-1");
        _fake.CompleteJob(lint.Id, "success");
        _fake.AssignJob(build.Id, "elsewhere-2");
        FakeJob test = _fake.AddJob(run.Id, "test", PoolLabels); // needs: lint, now queued while build still runs

        IReadOnlyList<ForgeJob> found = await Forge().PollQueuedAsync(Ct);

        ForgeJob only = Assert.Single(found);
        Assert.Equal((Id(test), "test"), (only.ForgeJobId, only.Name));
    }

    [Fact]
    public async Task PollQueued_RunWithManyQueuedJobs_AllFound()
    {
        _fake.QueueRun("acme/app", [.. Enumerable.Range(0, 130).Select(i => ($"matrix-{i}", PoolLabels))]);
        IReadOnlyList<ForgeJob> found = await Forge().PollQueuedAsync(Ct);
        Assert.Equal(130, found.Select(j => j.ForgeJobId).Distinct().Count());
    }

    [Fact]
    public async Task PollQueued_InProgressRunOlderThanWindow_SkippedUntilWebhookNotesIt()
    {
        FakeRun run = _fake.QueueRun("acme/app", ("build", PoolLabels));
        _fake.AssignJob(_fake.Jobs.Single().Id, "elsewhere");
        _time.Advance(TimeSpan.FromHours(30));
        FakeJob late = _fake.AddJob(run.Id, "deploy", PoolLabels);
        GitHubForge forge = Forge(window: TimeSpan.FromHours(24));

        Assert.Empty(await forge.PollQueuedAsync(Ct));
        Assert.DoesNotContain(_fake.Requests, r => r.Path.EndsWith("/jobs", StringComparison.Ordinal)); // the old run was not listed
        FakeForgeRequest inProgress = Assert.Single(_fake.Requests, r => r.Query.Contains("status=in_progress", StringComparison.Ordinal));
        Assert.Contains("created=%3E%3D", inProgress.Query, StringComparison.Ordinal);

        Assert.False(forge.NoteQueuedJob("other/repo", run.Id));
        Assert.True(forge.NoteQueuedJob("Acme/App", run.Id)); // GitHub's repository names are case-insensitive
        ForgeJob found = Assert.Single(await forge.PollQueuedAsync(Ct));
        Assert.Equal(Id(late), found.ForgeJobId);

        int jobLists = _fake.Requests.Count(r => r.Path.EndsWith("/jobs", StringComparison.Ordinal));
        await forge.PollQueuedAsync(Ct); // the note is used once
        Assert.Equal(jobLists, _fake.Requests.Count(r => r.Path.EndsWith("/jobs", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task PollQueued_NotedRunGone_PollGoesOnAndNoteDropped()
    {
        FakeJob job = _fake.QueueJob("acme/app", "build", PoolLabels);
        GitHubForge forge = Forge();
        Assert.True(forge.NoteQueuedJob("acme/app", 987654321)); // deleted, or never ours

        ForgeJob found = Assert.Single(await forge.PollQueuedAsync(Ct));
        Assert.Equal(Id(job), found.ForgeJobId);
        Assert.Single(_fake.Requests, r => r.Path.EndsWith("/987654321/jobs", StringComparison.Ordinal) && r.Status == 404);

        await forge.PollQueuedAsync(Ct);
        Assert.Single(_fake.Requests, r => r.Path.EndsWith("/987654321/jobs", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PollQueued_WindowZero_InProgressRunsNotListed()
    {
        _fake.QueueJob("acme/app", "build", PoolLabels);
        await Forge(window: TimeSpan.Zero).PollQueuedAsync(Ct);
        Assert.DoesNotContain(_fake.Requests, r => r.Query.Contains("status=in_progress", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PollQueued_NothingChanged_EveryRequestConditional()
    {
        FakeRun run = _fake.QueueRun("acme/app", ("build", PoolLabels), ("test", PoolLabels));
        _fake.AssignJob(_fake.Jobs.First(j => j.RunId == run.Id).Id, "elsewhere");
        _fake.QueueJob("acme/app", "lint", PoolLabels);
        GitHubForge forge = Forge();
        Assert.Equal(2, (await forge.PollQueuedAsync(Ct)).Count);
        int before = _fake.Requests.Count;
        int quota = _fake.RateLimitRemaining;

        Assert.Equal(2, (await forge.PollQueuedAsync(Ct)).Count);

        Assert.All(_fake.Requests.Skip(before), r => Assert.Equal(304, r.Status));
        Assert.Equal(quota, _fake.RateLimitRemaining); // an unchanged poll costs no quota
    }
}
