using Kindling.Runner.Jobs;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Jobs;

public sealed class JobStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-jobstore-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly JobStore _store;

    public JobStoreTests() => _store = new JobStore(Path.Combine(_dir, "jobs.db"), _time);

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static NewJob Job(string forgeId, string tenant = "acme") => new()
    {
        Tenant = tenant, Forge = "github", ForgeJobId = forgeId, Repository = "acme/app", Name = "build",
        Labels = ["self-hosted", "kindling"],
    };

    [Fact]
    public void Open_NewDatabase_WalModeAndLatestSchema()
    {
        Assert.Equal("wal", _store.JournalMode);
        Assert.Equal(JobStoreMigrations.Latest, _store.SchemaVersion);
        // Re-opening applies nothing twice.
        var again = new JobStore(_store.DatabasePath, _time);
        Assert.Equal(JobStoreMigrations.Latest, again.SchemaVersion);
    }

    [Fact]
    public void Enqueue_SameForgeJobTwice_OneRow()
    {
        (JobRecord first, bool created1) = _store.Enqueue(Job("1001"));
        (JobRecord second, bool created2) = _store.Enqueue(Job("1001"));
        Assert.True(created1);
        Assert.False(created2);
        Assert.Equal(first.Id, second.Id);
        Assert.Single(_store.ListByState(JobState.Queued));
        Assert.Equal(["self-hosted", "kindling"], first.Labels);
        Assert.Single(_store.Transitions(first.Id));
    }

    public static TheoryData<JobState, JobState> LegalPairs()
    {
        var data = new TheoryData<JobState, JobState>();
        foreach ((JobState from, JobState to) in JobLifecycle.AllLegal)
        {
            data.Add(from, to);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LegalPairs))]
    public void Transition_EveryLegalPair_Recorded(JobState from, JobState to)
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        DriveTo(job.Id, from);
        _time.Advance(TimeSpan.FromSeconds(5));
        JobRecord moved = _store.Transition(job.Id, from, to, "test");
        Assert.Equal(to, moved.State);
        JobTransition last = _store.Transitions(job.Id)[^1];
        Assert.Equal(from, last.From);
        Assert.Equal(to, last.To);
        Assert.Equal("test", last.Reason);
        Assert.Equal(_time.GetUtcNow(), last.At);
    }

    [Theory]
    [InlineData(JobState.Queued, JobState.Running)]
    [InlineData(JobState.Queued, JobState.Succeeded)]
    [InlineData(JobState.Running, JobState.Queued)]
    [InlineData(JobState.Succeeded, JobState.Failed)]
    [InlineData(JobState.Cleaned, JobState.Queued)]
    [InlineData(JobState.Queued, JobState.Cleaned)]
    [InlineData(JobState.Booting, JobState.Succeeded)]
    public void Transition_Illegal_ThrowsAndWritesNothing(JobState from, JobState to)
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        DriveTo(job.Id, from);
        int before = _store.Transitions(job.Id).Count;
        var e = Assert.Throws<IllegalTransitionException>(() => _store.Transition(job.Id, null, to, "nope"));
        Assert.Contains("not a legal transition", e.Message);
        Assert.Equal(from, _store.Get(job.Id)!.State);
        Assert.Equal(before, _store.Transitions(job.Id).Count);
    }

    [Fact]
    public void Transition_StaleExpectedState_Refused()
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        _store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted");
        // A second admitter with the old view loses the compare-and-set.
        var e = Assert.Throws<IllegalTransitionException>(() => _store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted"));
        Assert.Contains("expected state queued", e.Message);
        Assert.Equal(2, _store.Transitions(job.Id).Count);
    }

    [Fact]
    public void Transition_Requeue_BumpsAttempt()
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        _store.Transition(job.Id, null, JobState.Preparing, "admitted");
        JobRecord again = _store.Transition(job.Id, null, JobState.Queued, "runner restarted before boot");
        Assert.Equal(2, again.Attempt);
    }

    [Fact]
    public void SetResources_ThenGet_RoundTrips()
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        _store.SetResources(job.Id, new JobResources { VmId = "vm-1", VmmPid = 1234, TapName = "kt1", WorkDir = "/w" });
        _store.SetResources(job.Id, new JobResources { RunnerId = 77 });
        JobRecord got = _store.Get(job.Id)!;
        Assert.Equal(("vm-1", 1234, "kt1", "/w", 77L), (got.VmId, got.VmmPid, got.TapName, got.WorkDir, got.RunnerId));
    }

    [Fact]
    public void RecordStep_Upserts()
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        _store.RecordStep(job.Id, new StepRecord(0, "Build", null, null, false));
        _store.RecordStep(job.Id, new StepRecord(0, "Build", 2, 1.5, false));
        Assert.Equal([new StepRecord(0, "Build", 2, 1.5, false)], _store.Steps(job.Id));
    }

    [Fact]
    public void Transition_ConcurrentAdmitters_ExactlyOneWins()
    {
        JobRecord job = _store.Enqueue(Job("j")).Job;
        int wins = 0;
        Parallel.For(0, 8, _ =>
        {
            try
            {
                _store.Transition(job.Id, JobState.Queued, JobState.Preparing, "admitted");
                Interlocked.Increment(ref wins);
            }
            catch (IllegalTransitionException)
            {
            }
        });
        Assert.Equal(1, wins);
    }

    private void DriveTo(long id, JobState target)
    {
        JobState[] path = target switch
        {
            JobState.Queued => [],
            JobState.Preparing => [JobState.Preparing],
            JobState.Booting => [JobState.Preparing, JobState.Booting],
            JobState.Running => [JobState.Preparing, JobState.Booting, JobState.Running],
            JobState.Succeeded or JobState.TimedOut => [JobState.Preparing, JobState.Booting, JobState.Running, target],
            JobState.Failed or JobState.Cancelled => [target],
            JobState.Cleaned => [JobState.Failed, JobState.Cleaned],
            _ => throw new ArgumentOutOfRangeException(nameof(target)),
        };
        foreach (JobState s in path)
        {
            _store.Transition(id, null, s, "setup");
        }
    }
}
