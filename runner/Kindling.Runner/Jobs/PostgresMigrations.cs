using Dapper;
using Npgsql;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The PostgreSQL schema, step for step the same as <see cref="JobStoreMigrations"/>'s (the same version numbers
/// mean the same tables on both engines). Applied under the caller's advisory lock, each step in its own transaction.
/// </summary>
internal static class PostgresMigrations
{
    private static readonly string[] Steps =
    [
        // 1: jobs, their transitions and parsed steps.
        """
        CREATE TABLE jobs (
            id            BIGSERIAL PRIMARY KEY,
            tenant        TEXT NOT NULL,
            forge         TEXT NOT NULL,
            forge_job_id  TEXT NOT NULL,
            repository    TEXT NOT NULL,
            name          TEXT NOT NULL,
            labels        TEXT NOT NULL,
            state         TEXT NOT NULL,
            attempt       BIGINT NOT NULL DEFAULT 1,
            created_at    TEXT NOT NULL,
            updated_at    TEXT NOT NULL,
            spec_json     TEXT,
            runner_name   TEXT,
            runner_id     BIGINT,
            vm_id         TEXT,
            vmm_pid       BIGINT,
            work_dir      TEXT,
            tap_name      TEXT,
            exit_code     BIGINT,
            log_path      TEXT,
            vcpus         BIGINT NOT NULL DEFAULT 1,
            memory_mib    BIGINT NOT NULL DEFAULT 512,
            UNIQUE (forge, forge_job_id)
        );
        CREATE INDEX jobs_state ON jobs(state);
        CREATE TABLE transitions (
            id         BIGSERIAL PRIMARY KEY,
            job_id     BIGINT NOT NULL REFERENCES jobs(id),
            from_state TEXT,
            to_state   TEXT NOT NULL,
            at         TEXT NOT NULL,
            reason     TEXT NOT NULL
        );
        CREATE INDEX transitions_job ON transitions(job_id);
        CREATE TABLE steps (
            job_id    BIGINT NOT NULL REFERENCES jobs(id),
            n         BIGINT NOT NULL,
            name      TEXT NOT NULL,
            exit_code BIGINT,
            seconds   DOUBLE PRECISION,
            skipped   BIGINT NOT NULL,
            PRIMARY KEY (job_id, n)
        );
        """,
        // 2: the fleet: hosts, which host holds a job, tenant admission locks, poller leases, cancel requests.
        """
        ALTER TABLE jobs ADD COLUMN host TEXT;
        ALTER TABLE jobs ADD COLUMN cancel_requested TEXT;
        CREATE INDEX jobs_host ON jobs(host);
        CREATE TABLE hosts (
            name         TEXT PRIMARY KEY,
            vcpus        BIGINT NOT NULL,
            memory_mib   BIGINT NOT NULL,
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
    ];

    public static int Latest => Steps.Length;

    public static void Apply(NpgsqlConnection db, string where)
    {
        db.Execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
        while (true)
        {
            using NpgsqlTransaction tx = db.BeginTransaction();
            int current = db.ExecuteScalar<int?>("SELECT MAX(version) FROM schema_version", transaction: tx) ?? 0;
            if (current > Steps.Length)
            {
                throw new JobStoreSchemaException(
                    $"the job database {where} has schema version {current}, newer than this kindling knows ({Steps.Length}): " +
                    "it was written by a newer kindling; run that version (or a newer one) on every host of the fleet, " +
                    "or point Kindling:Store:ConnectionStringEnv at another database. The database was not changed.");
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
