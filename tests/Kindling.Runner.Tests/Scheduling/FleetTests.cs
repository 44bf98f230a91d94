using System.Globalization;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Kindling.Runner.Tests.Jobs;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// Daemons in this process sharing one private PostgreSQL and the same forges (one shared in-memory forge per
/// tenant, as GitHub is one queue for every host), with the stub launcher: every job runs exactly once, quotas and
/// fair share hold fleet-wide, a silent host's jobs are taken over, and a PostgreSQL restart loses nothing.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed partial class FleetTests(PostgresFixture pg)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Longest a whole fleet run may take before the test gives up (generous: CI is loaded).</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Run_ThreeDaemons200Jobs_EachRanOnceQuotasAndFairShareFleetWide()
    {
        (string Name, int MaxVms, int Jobs)[] tenants = [("a", 4, 100), ("b", 4, 70), ("c", 2, 30)];
        LocalForge[] forges = [.. tenants.Select(t => new LocalForge(t.Name))];
        string env = ConnectionEnv(pg.CreateDatabase());
        RunnerHarness[] hosts = [.. Enumerable.Range(1, 3).Select(i => Daemon(env, $"h{i}", tenants.Select(t => (t.Name, t.MaxVms)), forges))];
        try
        {
            foreach (((string name, _, int n), LocalForge f) in tenants.Zip(forges))
            {
                for (int i = 0; i < n; i++)
                {
                    f.Submit(Specs.Steps($"{name}-{i}", ("work", "true")), Specs.Labels);
                }
            }

            Assert.Equal(200, await hosts[0].Dispatcher.PollAsync(Ct)); // the whole backlog is queued before anyone admits
            await RunUntilCleaned(hosts, 200);
        }
        finally
        {
            await DisposeAll(hosts);
        }

        JobStore store = new(new PostgresDialect(Environment.GetEnvironmentVariable(env)!), TimeProvider.System);
        IReadOnlyList<JobRecord> jobs = store.List(limit: 1000);
        Assert.Equal(200, jobs.Count);
        Assert.All(jobs, j => Assert.Single(store.Transitions(j.Id), t => t.To == JobState.Succeeded));
        long[] launched = [.. hosts.SelectMany(h => h.Launcher.Requests).Select(JobIdOf)];
        Assert.Equal(200, launched.Length);
        Assert.Equal(200, launched.Distinct().Count());
        Assert.All(hosts, h => Assert.NotEmpty(h.Launcher.Requests)); // every host took a part

        var intervals = jobs.Select(j =>
        {
            IReadOnlyList<JobTransition> ts = store.Transitions(j.Id);
            return (j.Tenant, Host: ts.First(t => t.To == JobState.Preparing).Reason, From: ts.First(t => t.To == JobState.Preparing).At,
                To: ts.First(t => JobLifecycle.IsFinished(t.To)).At);
        }).ToList();
        foreach ((string name, int maxVms, _) in tenants)
        {
            int most = MaxOverlap([.. intervals.Where(i => i.Tenant == name).Select(i => (i.From, i.To))]);
            Assert.True(most >= 1 && most <= maxVms, $"tenant {name} ran {most} VMs at once fleet-wide; its quota is {maxVms}"); // quota, fleet-wide
        }

        foreach (string host in hosts.Select((_, i) => $"admitted by h{i + 1}"))
        {
            var onHost = intervals.Where(i => i.Host == host).ToList();
            int most = MaxOverlap([.. onHost.Select(i => (i.From, i.To))]);
            Assert.True(most >= 1 && most <= 3, $"{host}: {most} VMs at once on a host that fits 3: " +
                string.Join(" | ", onHost.OrderBy(i => i.From).Select(i => $"{i.Tenant} {i.From:HH:mm:ss.fffffff}-{i.To:HH:mm:ss.fffffff}"))); // each host's capacity
        }

        // Fair share: while every tenant still had queued jobs (until c's last admission), a and b (equal weight, quotas
        // not reached) got equal shares of the admissions, each within ±10 % of half.
        DateTimeOffset contended = intervals.Where(i => i.Tenant == "c").Max(i => i.From);
        int a = intervals.Count(i => i.Tenant == "a" && i.From <= contended);
        int b = intervals.Count(i => i.Tenant == "b" && i.From <= contended);
        double shareA = (double)a / (a + b);
        Assert.InRange(shareA, 0.45, 0.55);
        Assert.All(store.Hosts(), h => Assert.Equal(HostStates.Stopped, h.State));
    }

    [Fact]
    public async Task HostGoesSilent_ItsJobsTakenOverPerStage_NothingOrphaned()
    {
        var forge = new RunnerRecordingForge(new LocalForge("a"));
        string env = ConnectionEnv(pg.CreateDatabase());
        var store = new JobStore(new PostgresDialect(Environment.GetEnvironmentVariable(env)!), TimeProvider.System);

        // Host h3 claimed six jobs (two each preparing, booting, running, each with a JIT runner) and then went silent.
        store.RegisterHost(new HostRegistration("h3", 3, 32768, "test", ["kindling"]));
        List<JobRecord> claimed = [];
        for (int i = 0; i < 6; i++)
        {
            string forgeJobId = forge.Local.Submit(Specs.Steps($"a-{i}", ("work", "true")), Specs.Labels);
            claimed.Add(store.Enqueue(new NewJob
            {
                Tenant = "a", Forge = "local", ForgeJobId = forgeJobId, Repository = "local", Name = $"a-{i}", Labels = Specs.Labels,
                SpecJson = Specs.Steps($"a-{i}", ("work", "true")).ToJson(), Vcpus = 1, MemoryMib = 256,
            }).Job);
        }

        store.Admit("h3", (q, _) => q.Select(j => j.Id), "admitted by h3");
        foreach ((JobRecord j, int i) in claimed.Select((j, i) => (j, i)))
        {
            store.SetResources(j.Id, new JobResources { RunnerId = 1000 + i, RunnerName = RunnerNames.For(j.ForgeJobId) });
            if (i >= 2)
            {
                store.Transition(j.Id, JobState.Preparing, JobState.Booting, "booting on h3");
            }

            if (i >= 4)
            {
                store.Transition(j.Id, JobState.Booting, JobState.Running, "running on h3");
            }
        }

        DateTimeOffset silentSince = store.GetHost("h3")!.HeartbeatAt;
        RunnerHarness[] hosts = [.. Enumerable.Range(1, 2).Select(i => Daemon(env, $"h{i}", [("a", 10)], [forge], lease: "00:00:02"))];
        try
        {
            await RunUntilCleaned(hosts, 6, also: () => store.GetHost("h3")!.State == HostStates.Gone);
        }
        finally
        {
            await DisposeAll(hosts);
        }

        Assert.Equal(HostStates.Gone, store.GetHost("h3")!.State);
        foreach ((JobRecord j, int i) in claimed.Select((j, i) => (j, i)))
        {
            IReadOnlyList<JobTransition> ts = store.Transitions(j.Id);
            if (i < 4)
            {
                JobTransition requeue = Assert.Single(ts, t => t.To == JobState.Queued && t.From is not null);
                Assert.Contains("host h3 stopped heartbeating", requeue.Reason, StringComparison.Ordinal);
                Assert.True(requeue.At - silentSince >= TimeSpan.FromSeconds(2), "taken over only after the lease ran out");
                Assert.True(ts.Count(t => t.To == JobState.Succeeded) == 1, History(store, j.Id)); // ran once, on a live host
                Assert.Equal(2, store.Get(j.Id)!.Attempt);
            }
            else
            {
                JobTransition failed = Assert.Single(ts, t => t.To == JobState.Failed);
                Assert.Contains("host h3 stopped heartbeating", failed.Reason, StringComparison.Ordinal);
                Assert.Contains("while the job ran", failed.Reason, StringComparison.Ordinal);
                Assert.Equal(ForgeJobResult.Failed, forge.Local.ResultOf(j.ForgeJobId));
            }

            Assert.Contains(1000L + i, forge.RemovedRunnerIds); // h3's JIT runner removed before anything else happened
            Assert.Equal(JobState.Cleaned, store.Get(j.Id)!.State);
        }

        Assert.Equal(4, hosts.Sum(h => h.Launcher.Requests.Count)); // only the jobs that had not started ran again
    }

    [Fact]
    public async Task PostgresRestartsMidRun_DaemonsReconnect_NoJobLostOrRunTwice()
    {
        LocalForge forge = new("a");
        string env = ConnectionEnv(pg.CreateDatabase());
        RunnerHarness[] hosts = [.. Enumerable.Range(1, 2).Select(i => Daemon(env, $"h{i}", [("a", 10)], [forge], jobDuration: "00:00:00.100"))];
        var store = new JobStore(new PostgresDialect(Environment.GetEnvironmentVariable(env)!), TimeProvider.System);
        try
        {
            for (int i = 0; i < 40; i++)
            {
                forge.Submit(Specs.Steps($"a-{i}", ("work", "true")), Specs.Labels);
            }

            List<RunnerHarness.LoopRun> loops = [.. hosts.Select(h => h.StartLoop(Ct))];
            try
            {
                await WaitFor(() => store.ListByState(JobState.Cleaned).Count >= 10);
                pg.Server.Restart(); // every connection of every daemon is cut
                await WaitFor(() => store.ListByState(JobState.Cleaned).Count == 40);
            }
            finally
            {
                foreach (RunnerHarness.LoopRun l in loops)
                {
                    await l.DisposeAsync();
                }
            }
        }
        finally
        {
            await DisposeAll(hosts);
        }

        IReadOnlyList<JobRecord> jobs = store.List(limit: 100);
        Assert.Equal(40, jobs.Count);
        Assert.All(jobs, j => Assert.True(store.Transitions(j.Id).Count(t => t.To == JobState.Succeeded) == 1, History(store, j.Id)));
        long[] launched = [.. hosts.SelectMany(h => h.Launcher.Requests).Select(JobIdOf)];
        Assert.Equal(40, launched.Distinct().Count());
        Assert.Equal(40, launched.Length);
    }

    /// <summary>Puts the connection string into a variable of its own (the daemons read it from the environment).</summary>
    internal static string ConnectionEnv(string connectionString)
    {
        string name = "KINDLING_TEST_DB_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
        Environment.SetEnvironmentVariable(name, connectionString);
        return name;
    }

    /// <param name="lease">Short where a host is to be declared dead; longer elsewhere, so that a loaded machine's late heartbeat is not taken for a death.</param>
    internal static RunnerHarness Daemon(string env, string host, IEnumerable<(string Name, int MaxVms)> tenants, IForge[] forges,
        string jobDuration = "00:00:00.050", string lease = "00:00:10") =>
        new(RunnerHarness.Merge([
            .. tenants.Select((t, i) => RunnerHarness.LocalTenant(i, t.Name, t.MaxVms)),
            new()
            {
                ["Kindling:Store:Kind"] = "postgres", ["Kindling:Store:ConnectionStringEnv"] = env, ["Kindling:Store:HostLeaseTimeout"] = lease,
                ["Kindling:HostName"] = host, ["Kindling:Host:Vcpus"] = "3", ["Kindling:Launcher:StubJobDuration"] = jobDuration,
            }]), forges);

    /// <param name="also">What else must hold before the loops stop (the takeover marks a dead host gone after its jobs).</param>
    private static async Task RunUntilCleaned(RunnerHarness[] hosts, int count, Func<bool>? also = null)
    {
        List<RunnerHarness.LoopRun> loops = [.. hosts.Select(h => h.StartLoop(Ct))];
        try
        {
            await WaitFor(() => hosts[0].Store.ListByState(JobState.Cleaned).Count >= count && (also?.Invoke() ?? true));
        }
        finally
        {
            foreach (RunnerHarness.LoopRun l in loops)
            {
                await l.DisposeAsync();
            }
        }
    }

    private static async Task WaitFor(Func<bool> done)
    {
        DateTimeOffset until = DateTimeOffset.UtcNow + Patience;
        while (!done())
        {
            Assert.True(DateTimeOffset.UtcNow < until, $"the fleet did not get there within {Patience}");
            await Task.Delay(50, Ct);
        }
    }

    private static async Task DisposeAll(RunnerHarness[] hosts)
    {
        foreach (RunnerHarness h in hosts)
        {
            await h.DisposeAsync();
        }
    }

    private static string History(JobStore store, long id) =>
        $"job {id}: " + string.Join(" | ", store.Transitions(id).Select(t => $"{t.At:HH:mm:ss.fff} {t.From}->{t.To} {t.Reason}"));

    private static long JobIdOf(VmLaunchRequest r) =>
        long.Parse(r.Mmds["kindling"]!["job"]!["id"]!.GetValue<string>(), CultureInfo.InvariantCulture);

    private static int MaxOverlap(IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> intervals)
    {
        int open = 0, max = 0;
        foreach ((DateTimeOffset _, int delta) in intervals.SelectMany(i => new[] { (i.From, +1), (i.To, -1) }).OrderBy(e => e.Item1).ThenBy(e => e.Item2))
        {
            open += delta;
            max = Math.Max(max, open);
        }

        return max;
    }

    /// <summary>A local forge that records which runners were removed (a double that refuses what the forge refuses: it is the forge).</summary>
    private sealed class RunnerRecordingForge(LocalForge local) : IForge
    {
        private readonly List<long> _removed = [];
        private readonly List<string> _reported = [];

        public LocalForge Local => local;

        public IReadOnlyList<long> RemovedRunnerIds { get { lock (_removed) return [.. _removed]; } }

        /// <summary>The forge job ids whose results were reported to this forge.</summary>
        public IReadOnlyList<string> ReportedJobIds { get { lock (_removed) return [.. _reported]; } }

        public string Kind => local.Kind;

        public string Tenant => local.Tenant;

        public Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct) => local.PollQueuedAsync(ct);

        public Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct) => local.GetStatusAsync(job, ct);

        public Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct) =>
            local.RegisterRunnerAsync(job, runnerName, labels, ct);

        public Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct)
        {
            lock (_removed)
            {
                _removed.Add(runnerId);
            }

            return local.RemoveRunnerAsync(job, runnerId, ct);
        }

        public Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct) => local.ListRunnersAsync(ct);

        public Task RemoveRunnerAsync(long runnerId, CancellationToken ct) => local.RemoveRunnerAsync(runnerId, ct);

        public Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct)
        {
            lock (_removed)
            {
                _reported.Add(job.ForgeJobId);
            }

            return local.ReportResultAsync(job, result, ct);
        }
    }
}
