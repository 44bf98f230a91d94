using Dapper;
using Npgsql;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The PostgreSQL schema: <see cref="JobStoreMigrations"/>'s steps with PostgreSQL's column types (the same version
/// numbers mean the same tables on both engines). Applied under the caller's advisory lock, each step in its own transaction.
/// </summary>
internal static class PostgresMigrations
{
    /// <summary>SQLite's steps in PostgreSQL's spelling: 64-bit integers, identity keys, double precision.</summary>
    private static readonly string[] Steps = [.. JobStoreMigrations.SqliteSteps.Select(ToPostgres)];

    /// <summary>Rewrites one step's DDL from SQLite's column types into PostgreSQL's.</summary>
    internal static string ToPostgres(string sqlite) => sqlite
        .Replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY", StringComparison.Ordinal)
        .Replace("INTEGER", "BIGINT", StringComparison.Ordinal)
        .Replace("REAL", "DOUBLE PRECISION", StringComparison.Ordinal);

    public static int Latest => Steps.Length;

    /// <summary>Applies what is missing (<see cref="JobStoreMigrations.ApplySteps"/>); a newer schema is refused unchanged.</summary>
    public static void Apply(NpgsqlConnection db, PostgresDialect dialect)
    {
        db.Execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)");
        JobStoreMigrations.ApplySteps(db, dialect, Steps,
            tx => db.ExecuteScalar<int?>("SELECT MAX(version) FROM schema_version", transaction: tx) ?? 0,
            current =>
            {
                if (current > Steps.Length)
                {
                    throw new JobStoreSchemaException(
                        $"the job database {dialect.Describe} has schema version {current}, newer than this kindling knows ({Steps.Length}): " +
                        "it was written by a newer kindling; run that version (or a newer one) on every host of the fleet, " +
                        "or point Kindling:Store:ConnectionStringEnv at another database. The database was not changed.");
                }
            });
    }
}
