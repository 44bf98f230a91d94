using System.Data;
using System.Globalization;
using Dapper;
using System.Data.Common;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The job database (SQLite in WAL mode, Dapper). Every state change runs in one write transaction that checks
/// the current state, the lifecycle table and writes the job and its transition row together, or nothing.
/// </summary>
public sealed partial class JobStore
{
    private const string Columns =
        "id, tenant, forge, forge_job_id, repository, name, labels, state, attempt, created_at, updated_at, spec_json, " +
        "runner_name, runner_id, vm_id, vmm_pid, work_dir, tap_name, exit_code, log_path, vcpus, memory_mib, host";

    /// <summary>How long a store operation is retried while the database fails in a way worth a retry (a restart).</summary>
    private static readonly TimeSpan TransientPatience = TimeSpan.FromSeconds(30);

    private readonly StoreDialect _dialect;
    private readonly TimeProvider _time;

    /// <summary>One host's SQLite database at <paramref name="databasePath"/>.</summary>
    public JobStore(string databasePath, TimeProvider time)
        : this(new SqliteDialect(databasePath), time)
    {
    }

    /// <summary>
    /// The store on <paramref name="dialect"/>'s database; its migrations are applied now (under the dialect's lock),
    /// tried again as any operation is while a shared database does not answer (a host starting with its database,
    /// or on a loaded machine).
    /// </summary>
    public JobStore(StoreDialect dialect, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(dialect);
        _dialect = dialect;
        _time = time;
        Retry(_ =>
        {
            dialect.Migrate();
            return 0;
        });
    }

    /// <summary>The SQLite file, or a description of the PostgreSQL database (no password).</summary>
    public string DatabasePath => _dialect is SqliteDialect s ? s.DatabasePath : _dialect.Describe;

    public StoreDialect Dialect => _dialect;

    /// <summary>Several hosts share this store (PostgreSQL).</summary>
    public bool IsShared => _dialect.IsShared;

    public int SchemaVersion => Use(db => _dialect.SchemaVersion(db));

    public string JournalMode => _dialect is SqliteDialect ? Use(db => db.ExecuteScalar<string>("PRAGMA journal_mode") ?? "") : "";

    /// <summary>
    /// Records a job seen on a forge, once: a second call for the same (forge, forge job id) returns the existing
    /// row and <c>Created = false</c>. This is what keeps one forge job from ever getting two VMs.
    /// </summary>
    public (JobRecord Job, bool Created) Enqueue(NewJob job)
    {
        string now = Stamp();
        return Use<(JobRecord Job, bool Created)>(db =>
        {
            using DbTransaction tx = _dialect.BeginWrite(db);
            long? id = db.ExecuteScalar<long?>(
                """
                INSERT INTO jobs (tenant, forge, forge_job_id, repository, name, labels, state, attempt, created_at, updated_at, spec_json, vcpus, memory_mib)
                VALUES (@Tenant, @Forge, @ForgeJobId, @Repository, @Name, @labels, @state, 1, @now, @now, @SpecJson, @Vcpus, @MemoryMib)
                ON CONFLICT (forge, forge_job_id) DO NOTHING
                RETURNING id
                """,
                new
                {
                    job.Tenant, job.Forge, job.ForgeJobId, job.Repository, job.Name, labels = string.Join(',', job.Labels),
                    state = JobLifecycle.Name(JobState.Queued), now, job.SpecJson, job.Vcpus, job.MemoryMib,
                },
                tx);
            bool created = id is not null;
            if (created)
            {
                db.Execute(
                    "INSERT INTO transitions (job_id, from_state, to_state, at, reason) VALUES (@id, NULL, @to, @now, @reason)",
                    new { id, to = JobLifecycle.Name(JobState.Queued), now, reason = $"seen on {job.Forge}" },
                    tx);
            }

            id ??= db.ExecuteScalar<long>(
                "SELECT id FROM jobs WHERE forge = @Forge AND forge_job_id = @ForgeJobId", new { job.Forge, job.ForgeJobId }, tx);
            JobRecord record = Get(db, id.Value, tx)!;
            tx.Commit();
            return (record, created);
        });
    }

    /// <summary>
    /// Moves a job to <paramref name="to"/>. When <paramref name="expected"/> is given the job must be in that
    /// state (compare-and-set). Throws <see cref="IllegalTransitionException"/> and writes nothing otherwise.
    /// </summary>
    /// <param name="host">The host that takes the job (admission); its claim is released when the job goes back to queued.</param>
    /// <param name="heldBy">When given, the job must also still be held by this host (a takeover: the dead host's job,
    /// not the same job re-queued and admitted again by a live host meanwhile).</param>
    public JobRecord Transition(long id, JobState? expected, JobState to, string reason, int? exitCode = null, string? host = null, string? heldBy = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return Use<JobRecord>((db, retry) =>
        {
            using DbTransaction tx = _dialect.BeginWrite(db);
            JobRecord job = GetForUpdate(db, id, tx) ?? throw new KeyNotFoundException($"job {id} does not exist");
            if (retry && job.State == to && (expected is null || expected != to) && LastTransition(db, id, tx) is { } last
                && last.to_state == JobLifecycle.Name(to) && last.reason == reason)
            {
                return job; // the first try was committed, only its answer was lost (the connection broke)
            }

            string now = Stamp(); // under the row lock: a transition's time orders it after every change it saw
            if ((expected is { } e && e != job.State) || !JobLifecycle.IsLegal(job.State, to) || (heldBy is not null && job.Host != heldBy))
            {
                throw new IllegalTransitionException(id, job.State, expected, to);
            }

            bool requeue = to == JobState.Queued;
            db.Execute(
                """
                UPDATE jobs SET state = @to, updated_at = @now, exit_code = COALESCE(@exitCode, exit_code),
                                attempt = attempt + @bump, host = COALESCE(@host, CASE WHEN @bump = 1 THEN NULL ELSE host END),
                                cancel_requested = CASE WHEN @bump = 1 THEN NULL ELSE cancel_requested END
                WHERE id = @id
                """,
                new { id, to = JobLifecycle.Name(to), now, exitCode, bump = requeue ? 1 : 0, host },
                tx);
            db.Execute(
                "INSERT INTO transitions (job_id, from_state, to_state, at, reason) VALUES (@id, @from, @to, @now, @reason)",
                new { id, from = JobLifecycle.Name(job.State), to = JobLifecycle.Name(to), now, reason },
                tx);
            JobRecord updated = Get(db, id, tx)!;
            tx.Commit();
            return updated;
        });
    }

    /// <summary>Records the resources a job holds (non-null fields overwrite).</summary>
    public void SetResources(long id, JobResources r)
    {
        Use(db =>
        {
            int n = db.Execute(
                """
                UPDATE jobs SET runner_name = COALESCE(@RunnerName, runner_name), runner_id = COALESCE(@RunnerId, runner_id),
                    vm_id = COALESCE(@VmId, vm_id), vmm_pid = COALESCE(@VmmPid, vmm_pid), work_dir = COALESCE(@WorkDir, work_dir),
                    tap_name = COALESCE(@TapName, tap_name), log_path = COALESCE(@LogPath, log_path), updated_at = @now
                WHERE id = @id
                """,
                new { id, r.RunnerName, r.RunnerId, r.VmId, r.VmmPid, r.WorkDir, r.TapName, r.LogPath, now = Stamp() });
            if (n != 1)
            {
                throw new KeyNotFoundException($"job {id} does not exist");
            }
        });
    }

    public void RecordStep(long jobId, StepRecord step)
    {
        Use(db =>
        {
            db.Execute(
                """
                INSERT INTO steps (job_id, n, name, exit_code, seconds, skipped, started_at, ended_at, outcome)
                VALUES (@jobId, @Number, @Name, @ExitCode, @Seconds, @Skipped, @StartedAt, @EndedAt, @Outcome)
                ON CONFLICT (job_id, n) DO UPDATE SET name = excluded.name, exit_code = excluded.exit_code,
                    seconds = excluded.seconds, skipped = excluded.skipped, started_at = COALESCE(excluded.started_at, steps.started_at),
                    ended_at = excluded.ended_at, outcome = excluded.outcome
                """,
                new
                {
                    jobId, step.Number, step.Name, step.ExitCode, step.Seconds, Skipped = step.Skipped ? 1L : 0L,
                    StartedAt = step.StartedAt?.ToString("O", CultureInfo.InvariantCulture), EndedAt = step.EndedAt?.ToString("O", CultureInfo.InvariantCulture), step.Outcome,
                });
        });
    }

    public IReadOnlyList<StepRecord> Steps(long jobId)
    {
        return Use<IReadOnlyList<StepRecord>>(db =>
        {
            return [.. db.Query<StepRow>("SELECT n, name, exit_code, seconds, skipped, started_at, ended_at, outcome FROM steps WHERE job_id = @jobId ORDER BY n", new { jobId })
                .Select(r => new StepRecord((int)r.n, r.name, r.exit_code is null ? null : (int)r.exit_code.Value, r.seconds, r.skipped != 0,
                    Time(r.started_at), Time(r.ended_at), r.outcome))];
        });
    }

    public JobRecord? Get(long id)
    {
        return Use<JobRecord?>(db =>
        {
            return Get(db, id, null);
        });
    }

    public JobRecord? FindByForgeJob(string forge, string forgeJobId)
    {
        return Use<JobRecord?>(db =>
        {
            JobRow? row = db.QuerySingleOrDefault<JobRow>(
                $"SELECT {Columns} FROM jobs WHERE forge = @forge AND forge_job_id = @forgeJobId", new { forge, forgeJobId });
            return row?.ToRecord();
        });
    }

    public IReadOnlyList<JobRecord> ListByState(params JobState[] states)
    {
        return Use<IReadOnlyList<JobRecord>>(db =>
        {
            return [.. db.Query<JobRow>(
                $"SELECT {Columns} FROM jobs WHERE {_dialect.In("state", "@states")} ORDER BY id",
                new { states = states.Select(JobLifecycle.Name).ToArray() }).Select(r => r.ToRecord())];
        });
    }

    /// <summary>
    /// A page of jobs, newest first, optionally filtered by tenant, state and repository (a substring, so
    /// "acme/" finds every repository of that owner). Keyset paging: pass the last id seen as <paramref name="beforeId"/>.
    /// </summary>
    public IReadOnlyList<JobRecord> List(string? tenant = null, JobState? state = null, int limit = 100, long? beforeId = null, string? repository = null)
    {
        return Use<IReadOnlyList<JobRecord>>(db =>
        {
            return [.. db.Query<JobRow>(
                $"""
                SELECT {Columns} FROM jobs
                WHERE (@tenant IS NULL OR tenant = @tenant) AND (@state IS NULL OR state = @state) AND (@beforeId IS NULL OR id < @beforeId)
                  AND (@repository IS NULL OR {_dialect.Contains("repository", "@repository")})
                ORDER BY id DESC LIMIT @limit
                """,
                new { tenant, state = state is { } s ? JobLifecycle.Name(s) : null, limit, beforeId, repository }).Select(r => r.ToRecord())];
        });
    }

    /// <summary>How long the most recently admitted jobs waited in the queue (seen → admitted), newest first.</summary>
    public IReadOnlyList<TimeSpan> RecentQueueWaits(int limit)
    {
        return Use<IReadOnlyList<TimeSpan>>(db =>
        {
            return [.. db.Query<(string Created, string Admitted)>(
                    """
                    SELECT j.created_at, t.at FROM transitions t JOIN jobs j ON j.id = t.job_id
                    WHERE t.to_state = @preparing AND t.from_state = @queued
                    ORDER BY t.id DESC LIMIT @limit
                    """,
                    new { preparing = JobLifecycle.Name(JobState.Preparing), queued = JobLifecycle.Name(JobState.Queued), limit })
                .Select(r => DateTimeOffset.Parse(r.Admitted, CultureInfo.InvariantCulture) - DateTimeOffset.Parse(r.Created, CultureInfo.InvariantCulture))];
        });
    }

    public IReadOnlyList<JobTransition> Transitions(long jobId)
    {
        return Use<IReadOnlyList<JobTransition>>(db =>
        {
            return [.. db.Query<TransitionRow>(
                    "SELECT job_id, from_state, to_state, at, reason FROM transitions WHERE job_id = @jobId ORDER BY id", new { jobId })
                .Select(r => new JobTransition(
                    r.job_id, r.from_state is null ? null : JobLifecycle.Parse(r.from_state), JobLifecycle.Parse(r.to_state),
                    DateTimeOffset.Parse(r.at, CultureInfo.InvariantCulture), r.reason))];
        });
    }

    /// <summary>Counts of jobs per state (every state present, zero when none).</summary>
    public IReadOnlyDictionary<JobState, int> CountByState()
    {
        return Use<IReadOnlyDictionary<JobState, int>>(db =>
        {
            var counts = Enum.GetValues<JobState>().ToDictionary(s => s, _ => 0);
            foreach ((string state, long n) in db.Query<(string, long)>("SELECT state, COUNT(*) FROM jobs GROUP BY state"))
            {
                counts[JobLifecycle.Parse(state)] = (int)n;
            }

            return counts;
        });
    }

    /// <summary>
    /// Runs <paramref name="work"/> on a connection of its own. On a shared database a failure worth a retry (the
    /// server restarted, a deadlock) runs it again from the start, with backoff, for about half a minute: each
    /// operation is one transaction, so a retry never finds half of it written.
    /// </summary>
    private T Use<T>(Func<DbConnection, T> work) => Use((db, _) => work(db));

    /// <summary>As <see cref="Use{T}(Func{DbConnection, T})"/>; <paramref name="work"/> is told whether this is a retry.</summary>
    private T Use<T>(Func<DbConnection, bool, T> work) => Retry(retry =>
    {
        using DbConnection db = _dialect.Open();
        return work(db, retry);
    });

    /// <summary>Runs <paramref name="work"/> (told whether this is a retry) again while it fails in a way worth a retry, for about half a minute.</summary>
    private T Retry<T>(Func<bool, T> work)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return work(attempt > 1);
            }
            catch (Exception e) when (waited.Elapsed < TransientPatience && _dialect.IsTransient(e))
            {
                _dialect.Reset();
                Thread.Sleep(TimeSpan.FromMilliseconds(Math.Min(50 * (1 << Math.Min(attempt, 4)), 500)));
            }
        }
    }

    private void Use(Action<DbConnection> work) => Use(db =>
    {
        work(db);
        return 0;
    });

    private static JobRecord? Get(IDbConnection db, long id, IDbTransaction? tx) =>
        db.QuerySingleOrDefault<JobRow>($"SELECT {Columns} FROM jobs WHERE id = @id", new { id }, tx)?.ToRecord();

    private static TransitionRow? LastTransition(IDbConnection db, long id, IDbTransaction tx) =>
        db.QueryFirstOrDefault<TransitionRow>("SELECT job_id, from_state, to_state, at, reason FROM transitions WHERE job_id = @id ORDER BY id DESC LIMIT 1", new { id }, tx);

    private JobRecord? GetForUpdate(IDbConnection db, long id, IDbTransaction tx) =>
        db.QuerySingleOrDefault<JobRow>($"SELECT {Columns} FROM jobs WHERE id = @id{_dialect.ForUpdate}", new { id }, tx)?.ToRecord();

    private string Stamp() => _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset? Time(string? stamp) => stamp is null ? null : DateTimeOffset.Parse(stamp, CultureInfo.InvariantCulture);

#pragma warning disable IDE1006, CA1707 // Dapper maps snake_case columns onto these names.
    private sealed class JobRow
    {
        public long id { get; set; }
        public string tenant { get; set; } = "";
        public string forge { get; set; } = "";
        public string forge_job_id { get; set; } = "";
        public string repository { get; set; } = "";
        public string name { get; set; } = "";
        public string labels { get; set; } = "";
        public string state { get; set; } = "";
        public long attempt { get; set; }
        public string created_at { get; set; } = "";
        public string updated_at { get; set; } = "";
        public string? spec_json { get; set; }
        public string? runner_name { get; set; }
        public long? runner_id { get; set; }
        public string? vm_id { get; set; }
        public long? vmm_pid { get; set; }
        public string? work_dir { get; set; }
        public string? tap_name { get; set; }
        public long? exit_code { get; set; }
        public string? log_path { get; set; }
        public long vcpus { get; set; }
        public long memory_mib { get; set; }
        public string? host { get; set; }

        public JobRecord ToRecord() => new()
        {
            Id = id, Tenant = tenant, Forge = forge, ForgeJobId = forge_job_id, Repository = repository, Name = name,
            Labels = labels.Length == 0 ? [] : labels.Split(','), State = JobLifecycle.Parse(state), Attempt = (int)attempt,
            CreatedAt = DateTimeOffset.Parse(created_at, CultureInfo.InvariantCulture),
            UpdatedAt = DateTimeOffset.Parse(updated_at, CultureInfo.InvariantCulture),
            SpecJson = spec_json, RunnerName = runner_name, RunnerId = runner_id, VmId = vm_id, VmmPid = (int?)vmm_pid,
            WorkDir = work_dir, TapName = tap_name, ExitCode = (int?)exit_code, LogPath = log_path,
            Vcpus = (int)vcpus, MemoryMib = (int)memory_mib, Host = host,
        };
    }

    private sealed class TransitionRow
    {
        public long job_id { get; set; }
        public string? from_state { get; set; }
        public string to_state { get; set; } = "";
        public string at { get; set; } = "";
        public string reason { get; set; } = "";
    }

    private sealed class StepRow
    {
        public long n { get; set; }
        public string name { get; set; } = "";
        public long? exit_code { get; set; }
        public double? seconds { get; set; }
        public long skipped { get; set; }
        public string? started_at { get; set; }
        public string? ended_at { get; set; }
        public string? outcome { get; set; }
    }
#pragma warning restore IDE1006, CA1707
}
