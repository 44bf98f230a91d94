using System.Net;
using System.Security.Cryptography;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Tests.Forges.GitHub;

public sealed class GitHubClientTests : IAsyncLifetime
{
    private static readonly string[] PoolLabels = ["self-hosted", "kindling", "linux", "x64"];
    private readonly HttpClient _http = new() { Timeout = Timeout.InfiniteTimeSpan };
    private FakeGitHub _fake = null!;

    public async ValueTask InitializeAsync() => _fake = await FakeGitHub.StartAsync();

    public async ValueTask DisposeAsync()
    {
        await _fake.DisposeAsync();
        _http.Dispose();
    }

    private GitHubClient Client(TimeProvider? time = null, IGitHubTokenSource? tokens = null, TimeSpan? timeout = null, int retries = 4, FakeGitHub? fake = null,
        TimeSpan? retryBaseDelay = null, int maxPages = 50, ILogger? log = null) =>
        new(_http, new GitHubOptions
        {
            BaseUrl = (fake ?? _fake).BaseUrl.ToString(), RetryBaseDelay = retryBaseDelay ?? TimeSpan.FromMilliseconds(20), MaxRetries = retries,
            RequestTimeout = timeout ?? TimeSpan.FromMinutes(10), MaxPages = maxPages,
        }, tokens ?? new PatTokenSource("ghp_test"), time ?? TimeProvider.System, log ?? NullLogger.Instance);

    private static TenantOptions Tenant(string? org = null) => new()
    {
        Name = "acme", Forge = new TenantForgeOptions { Repositories = ["acme/app"], Organization = org },
    };

    private static ForgeJobRef Record(FakeJob job) => new(job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), job.Repository, JobId: 1);

    /// <summary>
    /// Each rate-limit wait passes at once on the fake clock: the client raises <see cref="GitHubClient.RateLimitWait"/>
    /// once the wait's timer exists, and the handler moves the clock past it. Returns the waits.
    /// </summary>
    private static List<TimeSpan> PassEachWait(GitHubClient client, FakeTimeProvider time)
    {
        List<TimeSpan> waits = [];
        client.RateLimitWait += w =>
        {
            lock (waits)
            {
                waits.Add(w);
            }

            time.Advance(w);
        };
        return waits;
    }

    /// <summary>A fake clock on a whole second (HTTP-dates and x-ratelimit-reset count whole seconds).</summary>
    private static FakeTimeProvider WholeSecondClock() => new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));

    [Fact]
    public async Task PollQueued_QueuedJob_FoundWithLabels()
    {
        FakeJob job = _fake.QueueJob("acme/app", "build", PoolLabels);
        _fake.QueueJob("other/repo", "elsewhere", PoolLabels);
        var forge = new GitHubForge(Tenant(), Client(), NullLogger<GitHubForge>.Instance);
        IReadOnlyList<ForgeJob> jobs = await forge.PollQueuedAsync(TestContext.Current.CancellationToken);
        ForgeJob found = Assert.Single(jobs);
        Assert.Equal(job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), found.ForgeJobId);
        Assert.Equal(PoolLabels, found.Labels);
        Assert.Contains(_fake.Requests, r => r.Path == "/repos/acme/app/actions/runs" && r.Query.Contains("status=queued", StringComparison.Ordinal));
        Assert.All(_fake.Requests, r => Assert.Equal("Bearer ghp_test", r.Authorization));
    }

    [Fact]
    public async Task PollQueued_Unchanged_SendsIfNoneMatchAndGets304()
    {
        _fake.QueueJob("acme/app", "build", PoolLabels);
        GitHubClient client = Client();
        GitHubResponse<WorkflowRunList> first = await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        int remaining = _fake.RateLimitRemaining;
        GitHubResponse<WorkflowRunList> second = await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        Assert.False(first.NotModified);
        Assert.True(second.NotModified);
        Assert.Equal(first.Value.WorkflowRuns.Single().Id, second.Value.WorkflowRuns.Single().Id);
        FakeForgeRequest last = _fake.Requests[^1];
        Assert.Equal(304, last.Status);
        Assert.NotNull(last.IfNoneMatch);
        Assert.Equal(remaining, _fake.RateLimitRemaining); // a 304 costs no quota

        _fake.QueueJob("acme/app", "test", PoolLabels);
        GitHubResponse<WorkflowRunList> third = await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        Assert.False(third.NotModified);
        Assert.Equal(2, third.Value.TotalCount);
    }

    [Theory]
    [InlineData(null, "repos/acme/app")]
    [InlineData("acme", "orgs/acme")]
    public async Task RegisterRunner_ThenRemove_JitRunnerCreatedAndDeleted(string? org, string scope)
    {
        FakeJob job = _fake.QueueJob("acme/app", "build", PoolLabels);
        var forge = new GitHubForge(Tenant(org), Client(), NullLogger<GitHubForge>.Instance);
        string name = RunnerNames.For(job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
        RunnerRegistration? reg = await forge.RegisterRunnerAsync(Record(job), name, PoolLabels, TestContext.Current.CancellationToken);
        Assert.NotNull(reg);
        FakeRunner runner = Assert.Single(_fake.Runners);
        Assert.Equal((name, scope, reg.RunnerId), (runner.Name, runner.Scope, runner.Id));
        Assert.Equal(runner.EncodedJitConfig, reg.EncodedJitConfig);
        Assert.Equal(PoolLabels, runner.Labels);
        Assert.Single(await forge.ListRunnersAsync(TestContext.Current.CancellationToken));

        await forge.RemoveRunnerAsync(Record(job), reg.RunnerId, TestContext.Current.CancellationToken);
        Assert.Empty(_fake.Runners);
        // Removing again is not an error (teardown after a crash may repeat it).
        await forge.RemoveRunnerAsync(Record(job), reg.RunnerId, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task GetStatus_CancelledOnForge_Cancelled()
    {
        FakeJob job = _fake.QueueJob("acme/app", "build", PoolLabels);
        var forge = new GitHubForge(Tenant(), Client(), NullLogger<GitHubForge>.Instance);
        Assert.Equal(ForgeJobStatus.Queued, await forge.GetStatusAsync(Record(job), TestContext.Current.CancellationToken));
        _fake.CompleteJob(job.Id, "cancelled");
        Assert.Equal(ForgeJobStatus.Cancelled, await forge.GetStatusAsync(Record(job), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Send_ServerErrors_RetriedWithJitteredExponentialBackoff()
    {
        _fake.QueueJob("acme/app", "build", PoolLabels);
        _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 502, Times = 3, PathContains = "/actions/runs" });
        GitHubClient client = Client();
        List<TimeSpan> delays = [];
        client.RetryScheduled += delays.Add;
        GitHubResponse<WorkflowRunList> runs = await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        Assert.Single(runs.Value.WorkflowRuns);
        Assert.Equal([502, 502, 502, 200], _fake.Requests.Select(r => r.Status));
        Assert.Equal(3, delays.Count);
        Assert.All(delays, d => Assert.True(d > TimeSpan.Zero));
        // Jitter: the delays are not the bare 20/40/80 ms doubling.
        Assert.NotEqual([20.0, 40.0, 80.0], delays.Select(d => d.TotalMilliseconds));
    }

    [Fact]
    public async Task Send_ForgeDown_ThrowsAfterRetriesNamingStatus()
    {
        _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 503, Times = 100 });
        var e = await Assert.ThrowsAsync<GitHubApiException>(() => Client(retries: 2).ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, e.Status);
        Assert.Equal(3, _fake.Requests.Count);
    }

    [Fact]
    public async Task Send_SlowResponse_TimesOutAndRetries()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        fake.QueueJob("acme/app", "build", PoolLabels);
        var hang = new FakeForgeFault { Kind = FakeForgeFaultKind.Hang, PathContains = "/actions/runs" };
        fake.AddFault(hang);
        var log = new ListLogger();
        GitHubClient client = Client(time, timeout: TimeSpan.FromSeconds(30), fake: fake, retryBaseDelay: TimeSpan.Zero, log: log);
        List<TimeSpan> retries = [];
        client.RetryScheduled += retries.Add;

        Task<GitHubResponse<WorkflowRunList>> call = client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        await hang.Hit.WaitAsync(TestContext.Current.CancellationToken); // the first attempt is held by the fake
        Assert.False(call.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(30)); // its timeout passes
        GitHubResponse<WorkflowRunList> runs = await call;

        Assert.Single(runs.Value.WorkflowRuns);
        Assert.Single(retries);
        // The fake records the abandoned attempt (499) when it sees the client go, which may come after the retry's 200.
        int[] Statuses() => [.. fake.Requests.Where(r => r.Path == "/repos/acme/app/actions/runs").Select(r => r.Status).Order()];
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); Statuses().Length < 2 && clock.Elapsed < TimeSpan.FromSeconds(30);)
        {
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.Equal([200, 499], Statuses());
        Assert.Contains(log.Messages, m => m.Contains("TimeoutRejectedException", StringComparison.Ordinal) && m.Contains("retry 1", StringComparison.Ordinal));
    }

    public static TheoryData<FakeForgeFaultKind, int, int?, bool, int> RateLimitAnswers() => new()
    {
        // kind, status, retry-after (s), as an HTTP-date, expected wait (s)
        { FakeForgeFaultKind.TooManyRequests, 429, 30, false, 30 },
        { FakeForgeFaultKind.TooManyRequests, 429, 45, true, 45 },
        { FakeForgeFaultKind.TooManyRequests, 429, null, false, 60 }, // no retry-after, limit not spent: GitHub says wait a minute
        { FakeForgeFaultKind.SecondaryLimit, 403, 90, false, 90 },
        { FakeForgeFaultKind.SecondaryLimit, 403, 75, true, 75 },
        { FakeForgeFaultKind.SecondaryLimit, 403, null, false, 60 },
        { FakeForgeFaultKind.PrimaryLimit, 403, null, false, 120 }, // x-ratelimit-remaining 0: until x-ratelimit-reset
        { FakeForgeFaultKind.PrimaryLimit, 429, null, false, 120 },
    };

    [Theory]
    [MemberData(nameof(RateLimitAnswers))]
    public async Task Send_RateLimited_WaitsAsGitHubSaysThenRetries(FakeForgeFaultKind kind, int status, int? retryAfter, bool asDate, int expectedWait)
    {
        FakeTimeProvider time = WholeSecondClock();
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        DateTimeOffset start = time.GetUtcNow();
        fake.AddFault(new FakeForgeFault
        {
            Kind = kind, Status = status, RetryAfter = retryAfter is { } s ? TimeSpan.FromSeconds(s) : null, RetryAfterAsDate = asDate,
            Reset = start + TimeSpan.FromSeconds(120),
        });
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = PassEachWait(client, time);

        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);

        Assert.Equal([TimeSpan.FromSeconds(expectedWait)], waits);
        Assert.Equal([status, 200], fake.Requests.Select(r => r.Status));
        Assert.Equal(start + TimeSpan.FromSeconds(expectedWait), fake.Requests[1].At);
    }

    [Fact]
    public async Task Send_403WithoutLimit_ThrowsAtOnce()
    {
        FakeTimeProvider time = WholeSecondClock();
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 403 }); // e.g. "Resource not accessible by integration"
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = PassEachWait(client, time);
        var e = await Assert.ThrowsAsync<GitHubApiException>(() => client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken));
        Assert.Equal(HttpStatusCode.Forbidden, e.Status);
        Assert.False(e.IsTransient);
        Assert.Empty(waits);
        Assert.Single(fake.Requests);
    }

    [Fact]
    public async Task Send_LimitSpentOnForge_RefusedThenWaitsForReset()
    {
        FakeTimeProvider time = WholeSecondClock();
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        fake.RateLimitRemaining = 0;
        fake.RateLimitReset = time.GetUtcNow() + TimeSpan.FromSeconds(300);
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = PassEachWait(client, time);

        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);

        Assert.Equal([TimeSpan.FromSeconds(300)], waits);
        Assert.Equal([403, 200], fake.Requests.Select(r => r.Status));
        Assert.Equal(fake.RateLimitLimit - 1, client.Gate.Remaining); // a new window
    }

    [Fact]
    public async Task Send_RemainingZero_NextRequestWaitsUntilReset()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        DateTimeOffset reset = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds() + 120);
        fake.RateLimitRemaining = 2;
        fake.RateLimitReset = reset;
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = PassEachWait(client, time);
        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken); // answered with remaining=1
        fake.QueueJob("acme/app", "build", PoolLabels);
        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken); // answered with remaining=0
        Assert.Equal(0, client.Gate.Remaining);
        Assert.Empty(waits);

        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);

        // Held back until the reset (not sent into a spent limit, which the fake would refuse with 403).
        TimeSpan wait = Assert.Single(waits);
        Assert.InRange(wait, TimeSpan.FromSeconds(119), TimeSpan.FromSeconds(120));
        Assert.Equal(3, fake.Requests.Count);
        Assert.DoesNotContain(fake.Requests, r => r.Status == 403);
        Assert.True(fake.Requests[2].At >= reset, $"sent at {fake.Requests[2].At:O}, reset {reset:O}");
    }

    [Fact]
    public async Task AppAuth_JwtExchangedForInstallationToken_RefreshedBeforeExpiry()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        using RSA key = RSA.Create(2048);
        using RSA pub = RSA.Create();
        pub.ImportRSAPublicKey(key.ExportRSAPublicKey(), out _);
        fake.AppPublicKey = pub;
        using RSA signing = RSA.Create();
        signing.ImportRSAPrivateKey(key.ExportRSAPrivateKey(), out _);
        using var tokens = new AppInstallationTokenSource(_http, fake.BaseUrl, fake.AppId, 99, RSA.Create(key.ExportParameters(true)), time);
        GitHubClient client = Client(time, tokens, fake: fake);
        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        await client.ListRunnersAsync(RunnerScope.Repository("acme/app"), TestContext.Current.CancellationToken);
        Assert.Single(fake.Requests, r => r.Path == "/app/installations/99/access_tokens" && r.Status == 201);
        Assert.StartsWith("Bearer ghs_fake99_", fake.Requests[^1].Authorization, StringComparison.Ordinal);

        time.Advance(TimeSpan.FromMinutes(56)); // inside the 5-minute refresh margin of the 1-hour token
        await client.ListRunnersAsync(RunnerScope.Repository("acme/app"), TestContext.Current.CancellationToken);
        Assert.Equal(2, fake.Requests.Count(r => r.Path == "/app/installations/99/access_tokens" && r.Status == 201));
    }

    [Fact]
    public async Task ListRunJobs_MoreThanOnePage_FollowsLinkToTheLastPage()
    {
        FakeRun run = _fake.QueueRun("acme/app", [.. Enumerable.Range(0, 250).Select(i => ($"matrix-{i}", PoolLabels))]);
        GitHubResponse<WorkflowJobList> jobs = await Client().ListRunJobsAsync("acme/app", run.Id, TestContext.Current.CancellationToken);

        Assert.Equal(250, jobs.Value.TotalCount);
        Assert.Equal(_fake.Jobs.Where(j => j.RunId == run.Id).Select(j => j.Id).Order(), jobs.Value.Jobs.Select(j => j.Id).Order());
        List<FakeForgeRequest> pages = [.. _fake.Requests.Where(r => r.Path.EndsWith("/jobs", StringComparison.Ordinal))];
        Assert.Equal(3, pages.Count);
        Assert.Equal($"/repos/acme/app/actions/runs/{run.Id}/jobs", pages[0].Path);
        // Pages 2 and 3 are asked for where GitHub's Link points: its numeric repository path, with the query kept.
        Assert.All(pages.Skip(1), p => Assert.Matches($"^/repositories/[0-9]+/actions/runs/{run.Id}/jobs$", p.Path));
        Assert.Equal(["?per_page=100", "?per_page=100&page=2", "?per_page=100&page=3"], pages.Select(p => p.Query));
    }

    [Fact]
    public async Task ListRunJobs_UnchangedPages_EachConditional()
    {
        FakeRun run = _fake.QueueRun("acme/app", [.. Enumerable.Range(0, 150).Select(i => ($"matrix-{i}", PoolLabels))]);
        GitHubClient client = Client();
        await client.ListRunJobsAsync("acme/app", run.Id, TestContext.Current.CancellationToken);
        int before = _fake.Requests.Count;
        GitHubResponse<WorkflowJobList> again = await client.ListRunJobsAsync("acme/app", run.Id, TestContext.Current.CancellationToken);
        Assert.True(again.NotModified);
        Assert.Equal(150, again.Value.Jobs.Count);
        Assert.Equal([304, 304], _fake.Requests.Skip(before).Select(r => r.Status));
    }

    [Theory]
    [InlineData(null, "repos/acme/app")]
    [InlineData("acme", "orgs/acme")]
    public async Task ListRunners_MoreThan100_AllListed(string? org, string scope)
    {
        _fake.AddRunners(scope, 230);
        var forge = new GitHubForge(Tenant(org), Client(), NullLogger<GitHubForge>.Instance);
        IReadOnlyList<ForgeRunner> runners = await forge.ListRunnersAsync(TestContext.Current.CancellationToken);
        Assert.Equal(230, runners.Select(r => r.Id).Distinct().Count());
        Assert.Equal(3, _fake.Requests.Count(r => r.Path.EndsWith("/actions/runners", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task ListRunJobs_MorePagesThanTheLimit_StopsThereAndLogs()
    {
        FakeRun run = _fake.QueueRun("acme/app", [.. Enumerable.Range(0, 250).Select(i => ($"matrix-{i}", PoolLabels))]);
        var log = new ListLogger();
        GitHubResponse<WorkflowJobList> jobs = await Client(maxPages: 2, log: log).ListRunJobsAsync("acme/app", run.Id, TestContext.Current.CancellationToken);
        Assert.Equal(200, jobs.Value.Jobs.Count);
        Assert.Equal(2, _fake.Requests.Count);
        Assert.Contains(log.Messages, m => m.StartsWith("Warning:", StringComparison.Ordinal) &&
                                           m.Contains("stopped at 2 pages (200 of 250 items read)", StringComparison.Ordinal) &&
                                           m.Contains("Forge:GitHub:MaxPages", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ListRunners_NextLinkOutsideApiRoot_RefusedWithoutFollowing()
    {
        _fake.AddRunners("repos/acme/app", 3);
        _fake.Tamper = (ctx, _) => ctx.Response.Headers["Link"] = "<https://collector.example/steal?page=2>; rel=\"next\"";
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Client().ListRunnersAsync(RunnerScope.Repository("acme/app"), TestContext.Current.CancellationToken));
        Assert.Contains("outside the API root", e.Message, StringComparison.Ordinal);
        Assert.Contains("https://collector.example/steal?page=2", e.Message, StringComparison.Ordinal);
        Assert.Single(_fake.Requests);
    }

    [Fact]
    public void Jwt_Claims_BackdatedTenMinuteLifetimeSigned()
    {
        using RSA key = RSA.Create(2048);
        var now = new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
        string jwt = GitHubAppJwt.Create(77, key, now);
        string[] parts = jwt.Split('.');
        Assert.True(key.VerifyData(System.Text.Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]),
            System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        using var payload = System.Text.Json.JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));
        Assert.Equal(now.ToUnixTimeSeconds() - 60, payload.RootElement.GetProperty("iat").GetInt64());
        Assert.Equal(now.ToUnixTimeSeconds() + 540, payload.RootElement.GetProperty("exp").GetInt64());
        Assert.Equal("77", payload.RootElement.GetProperty("iss").GetString());
    }

    [Fact]
    public void BaseUri_Ghes_KeepsApiV3Prefix()
    {
        Uri b = GitHubClient.BaseUri("https://ghe.example.com/api/v3");
        Assert.Equal("https://ghe.example.com/api/v3/repos/a/b/actions/runs", new Uri(b, "repos/a/b/actions/runs").ToString());
    }
}
