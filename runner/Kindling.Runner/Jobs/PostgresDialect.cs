using System.Data.Common;
using Dapper;
using Npgsql;

namespace Kindling.Runner.Jobs;

/// <summary>
/// The fleet's shared job database on PostgreSQL (Npgsql). Row locks and <c>SKIP LOCKED</c> keep hosts from
/// admitting the same job; migrations run under <c>pg_advisory_lock</c>, so hosts starting together apply each once.
/// </summary>
public sealed class PostgresDialect : StoreDialect
{
    /// <summary>The advisory lock key the migrations run under ("kindling" in ASCII, as a number).</summary>
    public const long MigrationLockKey = 0x6B696E646C696E67;

    private readonly string _connectionString;

    public PostgresDialect(string connectionString)
    {
        var b = new NpgsqlConnectionStringBuilder(connectionString);
        // A host that loses the database must notice within seconds, not wait out TCP's own timeouts.
        if (!connectionString.Contains("Timeout", StringComparison.OrdinalIgnoreCase))
        {
            b.Timeout = 5;
        }

        _connectionString = b.ConnectionString;
        Describe = $"postgres://{b.Host}:{b.Port}/{b.Database}";
    }

    public override string Kind => "postgres";

    public override bool IsShared => true;

    public override string Describe { get; }

    public override string ForUpdate => " FOR UPDATE";

    public override string ForUpdateSkipLocked => " FOR UPDATE SKIP LOCKED";

    public override string Contains(string haystack, string needle) => $"strpos({haystack}, {needle}) > 0";

    /// <summary>Dapper passes a list to Npgsql as one array parameter.</summary>
    public override string In(string column, string list) => $"{column} = ANY({list})";

    public override DbConnection Open()
    {
        var db = new NpgsqlConnection(_connectionString);
        db.Open();
        return db;
    }

    public override DbTransaction BeginWrite(DbConnection db) => db.BeginTransaction();

    public override void Migrate()
    {
        using var db = (NpgsqlConnection)Open();
        db.Execute("SELECT pg_advisory_lock(@MigrationLockKey)", new { MigrationLockKey });
        try
        {
            PostgresMigrations.Apply(db, this);
        }
        finally
        {
            db.Execute("SELECT pg_advisory_unlock(@MigrationLockKey)", new { MigrationLockKey });
        }
    }

    /// <summary>
    /// Connection failures, a server shutting down or starting (57P01–57P03), resources (53…), deadlocks and
    /// serialization failures: the operation is tried again on a new connection.
    /// </summary>
    public override bool IsTransient(Exception e) => e switch
    {
        PostgresException pe => pe.IsTransient || pe.SqlState.StartsWith("08", StringComparison.Ordinal) || pe.SqlState.StartsWith("57P", StringComparison.Ordinal)
            || pe.SqlState.StartsWith("53", StringComparison.Ordinal) || pe.SqlState is "40001" or "40P01",
        NpgsqlException => true, // no answer from the server: I/O, a broken or refused connection
        TimeoutException => true,
        InvalidOperationException { InnerException: { } inner } => IsTransient(inner),
        _ => false,
    };

    public override string ServerEpoch(DbConnection db) => db.ExecuteScalar<string>("SELECT pg_postmaster_start_time()::text") ?? "";

    public override void Reset() => NpgsqlConnection.ClearAllPools();
}
