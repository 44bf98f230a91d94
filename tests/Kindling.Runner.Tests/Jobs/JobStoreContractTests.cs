using Dapper;
using Kindling.Runner.Jobs;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// The JobStore contract, run against every store: <see cref="SqliteJobStoreContractTests"/> and
/// <see cref="PostgresJobStoreContractTests"/> are this class on SQLite and on PostgreSQL.
/// </summary>
public abstract class JobStoreContractTests
{
    protected FakeTimeProvider Time { get; } = new();

    /// <summary>A store on a new, empty database.</summary>
    protected abstract JobStore NewStore();

    /// <summary>Another store on the same database as <paramref name="store"/> (another process or host).</summary>
    protected abstract JobStore SameDatabase(JobStore store);

    private static NewJob Job(string forgeId, string tenant = "acme", string repository = "acme/app") => new()
    {
        Tenant = tenant, Forge = "github", ForgeJobId = forgeId, Repository = repository, Name = "build", Labels = ["self-hosted", "kindling"],
    };

    [Fact]
    public void Open_NewDatabase_LatestSchemaAppliedOnce()
    {
        JobStore store = NewStore();
        Assert.Equal(JobStoreMigrations.Latest, store.SchemaVersion);
        Assert.Equal(JobStoreMigrations.Latest, SameDatabase(store).SchemaVersion);
    }

    [Fact]
    public void Open_ManyAtOnce_EachMigrationAppliedOnce()
    {
        JobStore first = NewStore();
        JobStore[] more = [.. Enumerable.Range(0, 4).AsParallel().Select(_ => SameDatabase(first))];
        Assert.All(more, s => Assert.Equal(JobStoreMigrations.Latest, s.SchemaVersion));
        using System.Data.Common.DbConnection db = first.Dialect.Open();
        Assert.Equal(Enumerable.Range(1, JobStoreMigrations.Latest), db.Query<int>("SELECT version FROM schema_version ORDER BY version"));
    }

    [Fact]
    public void Enqueue_SameForgeJobTwice_OneRowOneTransition()
    {
        JobStore store = NewStore();
        (JobRecord first, bool created1) = store.Enqueue(Job("1001"));
        (JobRecord second, bool created2) = store.Enqueue(Job("1001"));
        Assert.True(created1);
        Assert.False(created2);
        Assert.Equal(first.Id, second.Id);
        Assert.Equal(["self-hosted", "kindling"], first.Labels);
        Assert.Single(store.ListByState(JobState.Queued));
        Assert.Single(store.Transitions(first.Id));
    }

    [Fact]
    public void Transition_EveryLegalPair_Accepted()
    {
        JobStore store = NewStore();
        int n = 0;
        foreach ((JobState from, JobState to) in JobLifecycle.AllLegal)
        {
            JobRecord job = store.Enqueue(Job($"legal-{n++}")).Job;
            foreach (JobState step in PathTo(from))
            {
                job = store.Transition(job.Id, job.State, step, "walk");
            }

            Assert.Equal(to, store.Transition(job.Id, from, to, "legal").State);
        }
    }

    [Fact]
    public void Transition_IllegalOrStale_RefusedAndNothingWritten()
    {
        JobStore store = NewStore();
        JobRecord job = store.Enqueue(Job("2001")).Job;
        Assert.Throws<IllegalTransitionException>(() => store.Transition(job.Id, JobState.Queued, JobState.Running, "skip ahead"));
        store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted");
        Assert.Throws<IllegalTransitionException>(() => store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted twice"));
        Assert.Equal(JobState.Preparing, store.Get(job.Id)!.State);
        Assert.Equal([JobState.Queued, JobState.Preparing], store.Transitions(job.Id).Select(t => t.To));
        Assert.Throws<KeyNotFoundException>(() => store.Transition(999_999, null, JobState.Failed, "none"));
    }

    [Fact]
    public void Transition_Requeue_BumpsAttemptAndReleasesHost()
    {
        JobStore store = NewStore();
        JobRecord job = store.Enqueue(Job("3001")).Job;
        Assert.Equal("h1", store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted", host: "h1").Host);
        JobRecord again = store.Transition(job.Id, JobState.Preparing, JobState.Queued, "re-queued");
        Assert.Equal(2, again.Attempt);
        Assert.Null(again.Host);
    }

    /// <summary>A takeover's transition holds only while the dead host still holds the job (not once it was re-queued and admitted again).</summary>
    [Fact]
    public void Transition_HeldByAnotherHostNow_RefusedAndNothingWritten()
    {
        JobStore store = NewStore();
        JobRecord job = store.Enqueue(Job("3002")).Job;
        store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted by h3", host: "h3");
        store.Transition(job.Id, JobState.Preparing, JobState.Queued, "re-queued: h3 is dead", heldBy: "h3");
        store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted by h1", host: "h1");
        int before = store.Transitions(job.Id).Count;

        Assert.Throws<IllegalTransitionException>(() => store.Transition(job.Id, JobState.Preparing, JobState.Queued, "re-queued: h3 is dead", heldBy: "h3"));
        Assert.Equal((JobState.Preparing, "h1", 2), (store.Get(job.Id)!.State, store.Get(job.Id)!.Host, store.Get(job.Id)!.Attempt));
        Assert.Equal(before, store.Transitions(job.Id).Count);
    }

    [Fact]
    public void ResourcesStepsAndSearch_RoundTrip()
    {
        JobStore store = NewStore();
        JobRecord a = store.Enqueue(Job("4001", repository: "acme/app")).Job;
        JobRecord b = store.Enqueue(Job("4002", tenant: "initech", repository: "initech/tps")).Job;
        store.SetResources(a.Id, new JobResources { RunnerName = "kindling-4001", RunnerId = 7, VmmPid = 42, TapName = "kt1" });
        var started = new DateTimeOffset(2026, 12, 5, 1, 2, 3, 456, TimeSpan.Zero);
        store.RecordStep(a.Id, new StepRecord(1, "build", null, null, false, started));
        store.RecordStep(a.Id, new StepRecord(1, "build", 1, 2.5, false, null, started.AddSeconds(2.5), StepResults.TimedOut));
        Assert.Throws<KeyNotFoundException>(() => store.SetResources(999_999, new JobResources { VmId = "x" }));
        JobRecord got = store.Get(a.Id)!;
        Assert.Equal(("kindling-4001", 7L, 42, "kt1"), (got.RunnerName, got.RunnerId!.Value, got.VmmPid!.Value, got.TapName));
        Assert.Equal([new StepRecord(1, "build", 1, 2.5, false, started, started.AddSeconds(2.5), StepResults.TimedOut)], store.Steps(a.Id));
        Assert.Equal([b.Id], store.List(repository: "initech/").Select(j => j.Id));
        Assert.Equal([a.Id], store.Search(new JobSearch(Tenant: "acme")).Select(j => j.Job.Id));
        Assert.Equal(a.Id, store.FindByForgeJob("github", "4001")!.Id);

        store.Transition(b.Id, JobState.Queued, JobState.Cancelled, "by admin");
        store.Transition(b.Id, JobState.Cancelled, JobState.Cleaned, "torn down");
        Assert.Equal(JobState.Cancelled, store.GetWithResult(b.Id)!.Result);
        Assert.Equal([b.Id], store.Search(new JobSearch(State: JobState.Cancelled)).Select(j => j.Job.Id));
        Assert.Equal(1, store.CountByResult()[JobState.Cancelled]);
        Assert.Equal(1, store.CountByState()[JobState.Cleaned]);
        Assert.Equal(["acme", "initech"], store.TenantsWithJobs());
    }

    [Fact]
    public void Admit_TwoStoresAtOnce_EachJobAdmittedOnce()
    {
        JobStore first = NewStore();
        JobStore second = SameDatabase(first);
        for (int i = 0; i < 60; i++)
        {
            first.Enqueue(Job($"adm-{i}", tenant: $"t{i % 3}"));
        }

        // Each admits everything it is shown; whatever interleaving, a job goes to one host only.
        IReadOnlyList<JobRecord>[] rounds = [.. new[] { (first, "h1"), (second, "h2"), (first, "h1"), (second, "h2") }
            .AsParallel().Select(s => s.Item1.Admit(s.Item2, (queued, _) => queued.Select(j => j.Id), "admitted"))];
        long[] admitted = [.. rounds.SelectMany(r => r).Select(j => j.Id)];
        Assert.Equal(admitted.Length, admitted.Distinct().Count());
        Assert.Equal(60, admitted.Length + first.ListByState(JobState.Queued).Count);
        Assert.All(first.ListByState(JobState.Preparing), j => Assert.Contains(j.Host, new[] { "h1", "h2" }));
        Assert.All(first.ListByState(JobState.Preparing), j => Assert.Equal(2, first.Transitions(j.Id).Count));
    }

    [Fact]
    public void Admit_DecideSeesFleetWideLiveJobs()
    {
        JobStore store = NewStore();
        JobRecord running = store.Enqueue(Job("live-1")).Job;
        store.Admit("h1", (q, _) => q.Select(j => j.Id), "admitted");
        store.Enqueue(Job("live-2"));
        IReadOnlyList<JobRecord>? seen = null;
        IReadOnlyList<JobRecord> none = SameDatabase(store).Admit("h2", (_, live) =>
        {
            seen = live;
            return [];
        }, "admitted");
        Assert.Empty(none);
        Assert.Equal([(running.Id, "h1")], seen!.Select(j => (j.Id, j.Host!)));
    }

    [Fact]
    public void Hosts_SilentPastLease_DeclaredDeadOnceByOneHost()
    {
        JobStore store = NewStore();
        store.RegisterHost(new HostRegistration("h1", 4, 4096, "1.0", ["kindling"]));
        store.RegisterHost(new HostRegistration("h2", 8, 8192, "1.0", ["kindling", "x64"]));
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.Equal(HostStates.Live, store.Heartbeat("h1")!.State);
        Assert.Empty(store.DeclareDeadHosts("h1", TimeSpan.FromSeconds(30)));
        Time.Advance(TimeSpan.FromSeconds(15));
        Assert.Equal(["h2"], store.DeclareDeadHosts("h1", TimeSpan.FromSeconds(30)));
        Assert.Empty(SameDatabase(store).DeclareDeadHosts("h1", TimeSpan.FromSeconds(30)));
        HostRecord h2 = store.GetHost("h2")!;
        Assert.Equal(HostStates.Dead, h2.State);
        Assert.Contains("taken over by h1", h2.Detail, StringComparison.Ordinal);
        Assert.Equal(HostStates.Dead, store.Heartbeat("h2")!.State); // a dead host's heartbeat does not revive it
        Assert.Equal(["kindling", "x64"], store.Hosts().Single(h => h.Name == "h2").Labels);
    }

    [Fact]
    public void PollerLease_OneHolderUntilItExpires()
    {
        JobStore store = NewStore();
        JobStore other = SameDatabase(store);
        TimeSpan lease = TimeSpan.FromSeconds(30);
        Assert.True(store.TryHoldPoller("acme", "h1", lease));
        Assert.False(other.TryHoldPoller("acme", "h2", lease));
        Assert.True(other.TryHoldPoller("initech", "h2", lease));
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.True(store.TryHoldPoller("acme", "h1", lease)); // renewed
        Time.Advance(TimeSpan.FromSeconds(20));
        Assert.False(other.TryHoldPoller("acme", "h2", lease));
        Time.Advance(TimeSpan.FromSeconds(31));
        Assert.True(other.TryHoldPoller("acme", "h2", lease)); // h1 stopped renewing
        Assert.Equal("h2", store.PollerHolders()["acme"]);
        store.ReleasePollers("h2");
        Assert.True(store.TryHoldPoller("acme", "h1", lease));
    }

    [Fact]
    public void RequestCancel_LiveJob_SeenByItsHostOnly()
    {
        JobStore store = NewStore();
        JobRecord queued = store.Enqueue(Job("c-1")).Job;
        Assert.False(store.RequestCancel(queued.Id, "by admin")); // not live: cancel it directly
        store.Admit("h1", (q, _) => q.Select(j => j.Id), "admitted");
        Assert.True(store.RequestCancel(queued.Id, "by admin on h2"));
        Assert.Equal([(queued.Id, "by admin on h2")], store.CancelRequests("h1"));
        Assert.Empty(store.CancelRequests("h2"));
    }

    private static IEnumerable<JobState> PathTo(JobState s) => s switch
    {
        JobState.Queued => [],
        JobState.Preparing => [JobState.Preparing],
        JobState.Booting => [JobState.Preparing, JobState.Booting],
        JobState.Running => [JobState.Preparing, JobState.Booting, JobState.Running],
        JobState.Cleaned => [JobState.Failed, JobState.Cleaned],
        _ when JobLifecycle.IsFinished(s) => [JobState.Preparing, JobState.Booting, JobState.Running, s],
        _ => throw new ArgumentOutOfRangeException(nameof(s)),
    };
}

public sealed class SqliteJobStoreContractTests : JobStoreContractTests, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-contract-").FullName;

    protected override JobStore NewStore() => new(Path.Combine(_dir, $"{Guid.NewGuid():N}.db"), Time);

    protected override JobStore SameDatabase(JobStore store) => new(store.DatabasePath, Time);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }
}

[Collection(PostgresCollection.Name)]
public sealed class PostgresJobStoreContractTests(PostgresFixture pg) : JobStoreContractTests
{
    private readonly Dictionary<JobStore, string> _connections = [];

    protected override JobStore NewStore()
    {
        string cs = pg.CreateDatabase();
        var store = new JobStore(new PostgresDialect(cs), Time);
        _connections[store] = cs;
        return store;
    }

    protected override JobStore SameDatabase(JobStore store)
    {
        string cs;
        lock (_connections)
        {
            cs = _connections[store];
        }

        return new JobStore(new PostgresDialect(cs), Time);
    }
}
