using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Kindling.Runner.Jobs;

/// <summary>Schema migrations, applied in order at start; <c>schema_version</c> holds the last one applied.</summary>
internal static class JobStoreMigrations
{
    /// <summary>The steps in SQLite's spelling; <see cref="PostgresMigrations"/> derives PostgreSQL's from them.</summary>
    internal static readonly string[] SqliteSteps =
    [
        // 1: jobs, their transitions and parsed steps.
        """
        CREATE TABLE jobs (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            tenant        TEXT NOT NULL,
            forge         TEXT NOT NULL,
            forge_job_id  TEXT NOT NULL,
            repository    TEXT NOT NULL,
            name          TEXT NOT NULL,
            labels        TEXT NOT NULL,
            state         TEXT NOT NULL,
            attempt       INTEGER NOT NULL DEFAULT 1,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL,
            spec_json     TEXT,
            runner_name   TEXT,
            runner_id     INTEGER,
            vm_id         TEXT,
            vmm_pid       INTEGER,
            work_dir      TEXT,
            tap_name      TEXT,
            exit_code     INTEGER,
            log_path      TEXT,
            vcpus         INTEGER NOT NULL DEFAULT 1,
            memory_mib    INTEGER NOT NULL DEFAULT 512,
            UNIQUE (forge, forge_job_id)
        );
        CREATE INDEX jobs_state ON jobs(state);
        CREATE TABLE transitions (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id     INTEGER NOT NULL REFERENCES jobs(id),
            from_state TEXT,
            to_state   TEXT NOT NULL,
            at         TEXT NOT NULL,
            reason     TEXT NOT NULL
        );
        CREATE INDEX transitions_job ON transitions(job_id);
        CREATE TABLE steps (
            job_id    INTEGER NOT NULL REFERENCES jobs(id),
            n         INTEGER NOT NULL,
            name      TEXT NOT NULL,
            exit_code INTEGER,
            seconds   REAL,
            skipped   INTEGER NOT NULL,
            PRIMARY KEY (job_id, n)
        );
        """,
        // 2: the fleet: hosts, which host holds a job, tenant admission locks, poller leases, cancel requests
        // (one SQLite host registers itself too, so GET /api/hosts reads the same on both stores).
        """
        ALTER TABLE jobs ADD COLUMN host TEXT;
        ALTER TABLE jobs ADD COLUMN cancel_requested TEXT;
        CREATE INDEX jobs_host ON jobs(host);
        CREATE TABLE hosts (
            name         TEXT PRIMARY KEY,
            vcpus        INTEGER NOT NULL,
            memory_mib   INTEGER NOT NULL,
            version      TEXT NOT NULL,
            labels       TEXT NOT NULL,
            state        TEXT NOT NULL,
            started_at   TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            detail       TEXT,
            drained_by   TEXT
        );
        CREATE TABLE tenant_locks (tenant TEXT PRIMARY KEY);
        CREATE TABLE pollers (
            tenant      TEXT PRIMARY KEY,
            host        TEXT NOT NULL,
            lease_until TEXT NOT NULL
        );
        """,
        // 3: a step's start and end as the runner read them, and its outcome (success, failure, cancelled, timed-out, skipped).
        """
        ALTER TABLE steps ADD COLUMN started_at TEXT;
        ALTER TABLE steps ADD COLUMN ended_at TEXT;
        ALTER TABLE steps ADD COLUMN outcome TEXT;
        """,
    ];

    public static int Latest => SqliteSteps.Length;

    /// <summary>
    /// Refuses a database whose schema is newer than this build knows, before anything in it is changed (journal
    /// mode included); then switches it to WAL and applies what is missing. Safe when several processes open the
    /// same database at once: each migration runs under the write lock and is applied once.
    /// </summary>
    public static void Apply(SqliteConnection db, StoreDialect dialect)
    {
        RefuseNewer(db, CurrentVersion(db, tx: null));
        db.Execute("PRAGMA journal_mode=WAL");
        db.Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        ApplySteps(db, dialect, SqliteSteps, tx => CurrentVersion(db, tx), current => RefuseNewer(db, current));
    }

    /// <summary>
    /// The migration loop of both engines: each missing step in order, in a write transaction of its own
    /// (<see cref="StoreDialect.BeginWrite"/>: SQLite's BEGIN IMMEDIATE, so one writer at a time; PostgreSQL's under
    /// the caller's advisory lock), with the version read under that lock and a newer one refused by
    /// <paramref name="refuseNewer"/> before anything changes.
    /// </summary>
    internal static void ApplySteps(
        DbConnection db, StoreDialect dialect, IReadOnlyList<string> steps, Func<DbTransaction, int> currentVersion, Action<int> refuseNewer)
    {
        while (true)
        {
            using DbTransaction tx = dialect.BeginWrite(db);
            int current = currentVersion(tx);
            refuseNewer(current);
            if (current == steps.Count)
            {
                return;
            }

            db.Execute(steps[current], transaction: tx);
            db.Execute("INSERT INTO schema_version (version) VALUES (@v)", new { v = current + 1 }, tx);
            tx.Commit();
        }
    }

    /// <summary>The last migration applied; 0 for a new (empty) database. Reads only.</summary>
    private static int CurrentVersion(SqliteConnection db, IDbTransaction? tx) =>
        db.ExecuteScalar<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", transaction: tx) == 0
            ? 0
            : db.ExecuteScalar<int?>("SELECT MAX(version) FROM schema_version", transaction: tx) ?? 0;

    private static void RefuseNewer(SqliteConnection db, int current)
    {
        if (current > SqliteSteps.Length)
        {
            throw new JobStoreSchemaException(
                $"the job database {db.DataSource} has schema version {current}, newer than this kindling knows ({SqliteSteps.Length}): " +
                "it was written by a newer kindling; run that version (or a newer one), or set Kindling:StateDirectory to another directory. " +
                "The database was not changed.");
        }
    }
}

/// <summary>The job database cannot be used by this build (a newer schema); nothing in it was changed.</summary>
public sealed class JobStoreSchemaException(string message) : Exception(message);
