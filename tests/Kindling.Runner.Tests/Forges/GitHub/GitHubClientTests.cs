using System.Net;
using System.Security.Cryptography;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
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

    private GitHubClient Client(TimeProvider? time = null, IGitHubTokenSource? tokens = null, TimeSpan? timeout = null, int retries = 4, FakeGitHub? fake = null) =>
        new(_http, new GitHubOptions
        {
            BaseUrl = (fake ?? _fake).BaseUrl.ToString(), RetryBaseDelay = TimeSpan.FromMilliseconds(20), MaxRetries = retries,
            RequestTimeout = timeout ?? TimeSpan.FromMinutes(10),
        }, tokens ?? new PatTokenSource("ghp_test"), time ?? TimeProvider.System, NullLogger.Instance);

    private static TenantOptions Tenant(string? org = null) => new()
    {
        Name = "acme", Forge = new TenantForgeOptions { Repositories = ["acme/app"], Organization = org },
    };

    private static JobRecord Record(FakeJob job) => new()
    {
        Id = 1, Tenant = "acme", Forge = "github", ForgeJobId = job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Repository = job.Repository, Name = job.Name, Labels = job.Labels, State = JobState.Preparing, Attempt = 1,
        CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    /// <summary>Moves fake time forward in small steps until <paramref name="task"/> finishes (timers fire in Advance).</summary>
    private static async Task<T> AdvanceUntil<T>(FakeTimeProvider time, Task<T> task, TimeSpan step, int maxSteps = 1000)
    {
        for (int i = 0; i < maxSteps && !task.IsCompleted; i++)
        {
            await Task.Delay(2, TestContext.Current.CancellationToken);
            time.Advance(step);
        }

        return await task;
    }

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
        _fake.QueueJob("acme/app", "build", PoolLabels);
        _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = TimeSpan.FromSeconds(5), Times = 1 });
        GitHubClient client = Client(timeout: TimeSpan.FromMilliseconds(300));
        GitHubResponse<WorkflowRunList> runs = await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        Assert.Single(runs.Value.WorkflowRuns);
    }

    [Fact]
    public async Task Send_429WithRetryAfter_WaitsThatLongThenRetries()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.TooManyRequests, RetryAfter = TimeSpan.FromSeconds(30) });
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = [];
        client.RateLimitWait += waits.Add;
        DateTimeOffset start = time.GetUtcNow();
        await AdvanceUntil(time, client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken), TimeSpan.FromSeconds(1));
        Assert.Equal([TimeSpan.FromSeconds(30)], waits);
        Assert.Equal([429, 200], fake.Requests.Select(r => r.Status));
        Assert.True(fake.Requests[1].At - start >= TimeSpan.FromSeconds(30), $"retried after {fake.Requests[1].At - start}");
    }

    [Fact]
    public async Task Send_SecondaryLimit403_WaitsRetryAfter()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.SecondaryLimit, RetryAfter = TimeSpan.FromSeconds(90) });
        GitHubClient client = Client(time, fake: fake);
        List<TimeSpan> waits = [];
        client.RateLimitWait += waits.Add;
        await AdvanceUntil(time, client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken), TimeSpan.FromSeconds(2));
        Assert.Equal([TimeSpan.FromSeconds(90)], waits);
        Assert.Equal([403, 200], fake.Requests.Select(r => r.Status));
    }

    [Fact]
    public async Task Send_RemainingZero_NextRequestWaitsUntilReset()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using FakeGitHub fake = await FakeGitHub.StartAsync(time);
        DateTimeOffset reset = DateTimeOffset.FromUnixTimeSeconds(time.GetUtcNow().ToUnixTimeSeconds() + 120);
        fake.RateLimitRemaining = 1;
        fake.RateLimitReset = reset;
        GitHubClient client = Client(time, fake: fake);
        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken); // reports remaining=1 then uses it
        fake.QueueJob("acme/app", "build", PoolLabels);
        await client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken); // answered with remaining=0
        Assert.Equal(0, client.Gate.Remaining);
        fake.RateLimitRemaining = 5000;
        Task<GitHubResponse<WorkflowRunList>> third = client.ListQueuedRunsAsync("acme/app", TestContext.Current.CancellationToken);
        await Task.Delay(50, TestContext.Current.CancellationToken);
        Assert.Equal(2, fake.Requests.Count); // held back, not sent
        await AdvanceUntil(time, third, TimeSpan.FromSeconds(5));
        Assert.Equal(3, fake.Requests.Count);
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
