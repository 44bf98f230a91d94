using System.Data;
using Dapper;

namespace Kindling.Runner.Jobs;

/// <summary>Schema migrations, applied in order at start; <c>schema_version</c> holds the last one applied.</summary>
internal static class JobStoreMigrations
{
    private static readonly string[] Steps =
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
    ];

    public static int Latest => Steps.Length;

    /// <summary>Applies what is missing; safe when several processes open the same database at once.</summary>
    public static void Apply(Microsoft.Data.Sqlite.SqliteConnection db)
    {
        db.Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
        while (true)
        {
            // BEGIN IMMEDIATE: one writer at a time, and the version is read under that lock.
            using IDbTransaction tx = db.BeginTransaction(deferred: false);
            int current = db.ExecuteScalar<int?>("SELECT MAX(version) FROM schema_version", transaction: tx) ?? 0;
            if (current > Steps.Length)
            {
                throw new InvalidOperationException(
                    $"the job database has schema version {current}, newer than this kindling ({Steps.Length}); upgrade kindling or use another Kindling:StateDirectory");
            }

            if (current == Steps.Length)
            {
                return;
            }

            db.Execute(Steps[current], transaction: tx);
            db.Execute("INSERT INTO schema_version (version) VALUES (@v)", new { v = current + 1 }, tx);
            tx.Commit();
        }
    }
}
