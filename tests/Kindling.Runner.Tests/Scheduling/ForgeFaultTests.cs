using System.Diagnostics;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Kindling.Testing.FakeForge;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// The daemon loop (JobDispatcher.RunAsync, stub VMs) against a FakeGitHub that fails or stalls: backoff with
/// jitter, no duplicate VM for one job, no lost job, and one tenant's forge never holds up another tenant.
/// </summary>
public sealed class ForgeFaultTests
{
    /// <summary>How long a wait for something that takes milliseconds may last on a loaded machine before the test fails.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    /// <summary>
    /// A request timeout no answer takes on a loaded machine, unless a fault holds it; the Delay faults that must
    /// time out hold their request far longer (<see cref="Held"/>).
    /// </summary>
    private static readonly TimeSpan GenerousTimeout = TimeSpan.FromSeconds(5);

    /// <summary>A Delay fault's delay that outlasts any test: the request is answered only when the client gives up or a gate opens.</summary>
    private static readonly TimeSpan Held = TimeSpan.FromMinutes(10);
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Delay_ConsecutiveFailures_DoublesUpToCapWithJitterInUpperHalf()
    {
        TimeSpan first = TimeSpan.FromSeconds(1), max = TimeSpan.FromSeconds(30);
        Assert.Equal(TimeSpan.FromMilliseconds(500), Backoff.Delay(1, first, max, 0));
        Assert.Equal(TimeSpan.FromSeconds(1), Backoff.Delay(1, first, max, 1));
        Assert.Equal(TimeSpan.FromSeconds(4), Backoff.Delay(4, first, max, 0));
        Assert.Equal(TimeSpan.FromSeconds(6), Backoff.Delay(4, first, max, 0.5));
        Assert.Equal(TimeSpan.FromSeconds(15), Backoff.Delay(6, first, max, 0)); // 32 s capped at 30, jittered
        Assert.Equal(TimeSpan.FromSeconds(30), Backoff.Delay(1000, first, max, 1));
        var samples = Enumerable.Range(0, 200).Select(_ => Backoff.Delay(3, first, max, Random.Shared.NextDouble())).ToList();
        Assert.All(samples, d => Assert.InRange(d, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(4)));
        Assert.True(samples.Distinct().Count() > 100, "jitter should spread the delays");
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Delay(0, first, max, 0));
    }

    /// <summary>Runner registration fails (5xx, or too slow: client timeouts) past the client's retries: re-queued, run once later.</summary>
    [Theory]
    [InlineData(FakeForgeFaultKind.Status)]
    [InlineData(FakeForgeFaultKind.Delay)]
    public async Task RunLoop_JitRegistrationFailsThenRecovers_JobRequeuedRunsOnceNoneLost(FakeForgeFaultKind kind)
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob gh = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        // MaxRetries 1: two requests per registration; the first registration (both requests) fails.
        // A Delay fault is held until the client's request timeout gives up on it (GenerousTimeout).
        fake.AddFault(new FakeForgeFault { Kind = kind, Status = 502, Delay = Held, PathContains = "generate-jitconfig", Times = 2 });
        await using var h = new RunnerHarness(GitHubTenant(fake));
        h.InstallActionsRunner();

        JobRecord job = await RunUntilAsync(h, () => h.Store.List() is [{ State: JobState.Cleaned } j] ? j : null);

        IReadOnlyList<JobTransition> history = h.Store.Transitions(job.Id);
        Assert.Contains(history, t => t.From == JobState.Preparing && t.To == JobState.Queued &&
            t.Reason.StartsWith("re-queued: GitHub could not register runner", StringComparison.Ordinal));
        Assert.Contains(history, t => t.To == JobState.Succeeded);
        Assert.Equal(2, job.Attempt);
        Assert.Single(h.Launcher.Requests); // one VM, for the attempt that got a runner
        Assert.Equal(3, fake.Requests.Count(r => r.Path.EndsWith("/generate-jitconfig", StringComparison.Ordinal)));
        Assert.Equal(gh.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), job.ForgeJobId);
        Assert.Empty(fake.Runners);
    }

    [Fact]
    public async Task RunLoop_JitRegistrationRejected_FailsWithoutRetry()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 422, PathContains = "generate-jitconfig", Times = 100 });
        await using var h = new RunnerHarness(GitHubTenant(fake));

        JobRecord job = await RunUntilAsync(h, () => h.Store.List() is [{ State: JobState.Cleaned } j] ? j : null);

        Assert.Equal(1, job.Attempt);
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Failed && t.Reason.Contains("422", StringComparison.Ordinal));
        Assert.Empty(h.Launcher.Requests);
    }

    /// <summary>A forge that keeps failing is polled less and less often; when it recovers its job is picked up.</summary>
    [Fact]
    public async Task RunLoop_ForgeDown_PolledWithBackoffThenJobPickedUp()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 503, PathContains = "/actions/runs", Times = 100_000 });
        await using var h = new RunnerHarness(RunnerHarness.Merge(GitHubTenant(fake), new() { ["Kindling:Forge:GitHub:MaxRetries"] = "0" }));
        h.InstallActionsRunner();
        await using RunnerHarness.LoopRun loop = h.StartLoop(Ct);

        // Six failed polls; between the k-th failure and the next poll at least Backoff.Delay(k) with no jitter
        // (25, 50, 100, 200, 400 ms for a 50 ms poll interval), where without backoff it would be 50 ms each.
        // Load only lengthens the gaps: these are lower bounds.
        const int failures = 6;
        DateTimeOffset[] polls = await WaitForAsync(() =>
            fake.Requests.Where(r => r.Path.EndsWith("/actions/runs", StringComparison.Ordinal)).Select(r => r.At).ToArray() is { Length: >= failures } p ? p : null);
        for (int k = 1; k < failures; k++)
        {
            TimeSpan least = Backoff.Delay(k, TimeSpan.FromMilliseconds(50), JobDispatcher.MaxPollBackoff, 0);
            Assert.True(polls[k] - polls[k - 1] >= least - TimeSpan.FromMilliseconds(2),
                $"poll {k + 1} came {(polls[k] - polls[k - 1]).TotalMilliseconds} ms after failure {k}; backoff wants at least {least.TotalMilliseconds} ms");
        }

        Assert.Empty(h.Store.List());

        fake.ClearFaults();
        JobRecord job = await WaitAsync(() => h.Store.List() is [{ State: JobState.Cleaned } j] ? j : null);
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Succeeded);
        Assert.Single(h.Launcher.Requests);
    }

    /// <summary>Tenant "slow" has a forge that takes 5 s per poll; tenant "quick"'s job runs meanwhile.</summary>
    [Fact]
    public async Task RunLoop_OneForgeSlow_OtherTenantsJobRunsMeanwhile()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        // The slow forge's polls never answer while the test runs (held, and the client waits for them).
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = Held, PathContains = "/actions/runs", Times = 100_000 });
        LocalForge quick = Specs.Local("quick");
        await using var h = new RunnerHarness(RunnerHarness.Merge(GitHubTenant(fake), RunnerHarness.LocalTenant(1, "quick"),
            new() { ["Kindling:Forge:GitHub:RequestTimeout"] = "00:30:00" }), quick); // slow, not timing out
        string fid = quick.Submit(Specs.Steps("q", ("x", "echo quick")), Specs.Labels);
        await using RunnerHarness.LoopRun loop = h.StartLoop(Ct);

        await WaitAsync(() => h.Store.FindByForgeJob("local", fid) is { State: JobState.Cleaned } j ? j : null);
        Assert.Equal(ForgeJobResult.Succeeded, quick.ResultOf(fid));
        // The quick job ran from start to cleaned while the slow forge's first poll was still unanswered.
        Assert.DoesNotContain(fake.Requests, r => r.Path.EndsWith("/actions/runs", StringComparison.Ordinal));
        Assert.DoesNotContain(h.Store.List(), j => j.Tenant == "acme");
    }

    /// <summary>
    /// The orphan sweep runs while a finished job's teardown waits on GitHub to remove its runner: the sweep leaves
    /// that runner (and the VM's jail) to the teardown (it once removed the runner too, racing the teardown).
    /// </summary>
    [Fact]
    public async Task Reap_DuringTeardownOfFinishedJob_LeavesItsRunnerToTheTeardown()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        // The runner's DELETE is held until the test has swept.
        var swept = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Until = swept.Task, PathContains = "/actions/runners/", Method = "DELETE" });
        await using var h = new RunnerHarness(RunnerHarness.Merge(GitHubTenant(fake), new()
        {
            ["Kindling:Forge:GitHub:RequestTimeout"] = "00:30:00", ["Kindling:ReapInterval"] = "01:00:00",
        }));
        h.InstallActionsRunner();
        await using RunnerHarness.LoopRun loop = h.StartLoop(Ct);

        JobRecord finished = await WaitAsync(() => h.Store.List() is [{ State: JobState.Succeeded, WorkDir: { } dir } j] && !Directory.Exists(dir) ? j : null);
        Assert.Single(fake.Runners); // the teardown is waiting on its DELETE
        await h.Reaper.ReapPeriodicAsync(new HashSet<long> { finished.Id }, Ct);
        Assert.Equal(finished.RunnerName, Assert.Single(fake.Runners).Name);
        Assert.Contains(finished.VmId!, h.Launcher.ReapCalls[^1]); // nor is its VM's jail an orphan
        swept.SetResult();

        JobRecord cleaned = await WaitAsync(() => h.Store.Get(finished.Id) is { State: JobState.Cleaned } j ? j : null);
        Assert.Equal([JobState.Queued, JobState.Preparing, JobState.Booting, JobState.Running, JobState.Succeeded, JobState.Cleaned],
            h.Store.Transitions(cleaned.Id).Select(t => t.To));
        Assert.Empty(fake.Runners);
        Assert.Single(fake.Requests, r => r.Method == "DELETE" && r.Path.Contains("/actions/runners/", StringComparison.Ordinal));
    }

    private static Dictionary<string, string?> GitHubTenant(FakeGitHub fake) => new()
    {
        ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
        ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
        ["Kindling:Forge:GitHub:MaxRetries"] = "1", ["Kindling:Forge:GitHub:RetryBaseDelay"] = "00:00:00.010",
        ["Kindling:Forge:GitHub:RequestTimeout"] = GenerousTimeout.ToString(),
    };

    private static async Task<JobRecord> RunUntilAsync(RunnerHarness h, Func<JobRecord?> done)
    {
        await using RunnerHarness.LoopRun loop = h.StartLoop(Ct);
        return await WaitAsync(done);
    }

    private static Task<JobRecord> WaitAsync(Func<JobRecord?> done) => WaitForAsync(done);

    private static async Task<T> WaitForAsync<T>(Func<T?> done) where T : class
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < Patience)
        {
            if (done() is { } value)
            {
                return value;
            }

            await Task.Delay(20, Ct);
        }

        throw new TimeoutException($"not done within {Patience}");
    }
}
