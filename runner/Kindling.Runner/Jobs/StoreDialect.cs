using Dapper;
using System.Data.Common;

namespace Kindling.Runner.Jobs;

/// <summary>
/// What differs between the job database engines behind <see cref="JobStore"/>: opening a connection, taking the
/// write lock, locking rows, a few SQL spellings, applying migrations and which failures are worth a retry. The
/// JobStore's queries and the lifecycle checks are the same on every engine.
/// </summary>
public abstract class StoreDialect
{
    /// <summary>"sqlite" or "postgres".</summary>
    public abstract string Kind { get; }

    /// <summary>Several hosts share the database (PostgreSQL); false for one host's own SQLite file.</summary>
    public abstract bool IsShared { get; }

    /// <summary>Where the database is, for messages (a file path, or host/port/database without the password).</summary>
    public abstract string Describe { get; }

    /// <summary>Appended to a SELECT that reads rows about to be changed in the same transaction.</summary>
    public abstract string ForUpdate { get; }

    /// <summary>As <see cref="ForUpdate"/>, skipping rows another transaction holds (nothing on SQLite: one writer at a time).</summary>
    public abstract string ForUpdateSkipLocked { get; }

    /// <summary>A boolean SQL expression: <paramref name="haystack"/> contains the text of <paramref name="needle"/>.</summary>
    public abstract string Contains(string haystack, string needle);

    /// <summary>A boolean SQL expression: <paramref name="column"/> is one of the list parameter <paramref name="list"/>.</summary>
    public abstract string In(string column, string list);

    public abstract DbConnection Open();

    /// <summary>A transaction that may write: on SQLite it takes the write lock up front (BEGIN IMMEDIATE).</summary>
    public abstract DbTransaction BeginWrite(DbConnection db);

    /// <summary>Brings the schema to <see cref="JobStoreMigrations.Latest"/>, under a lock held across hosts/processes.</summary>
    public abstract void Migrate();

    /// <summary>The last migration applied.</summary>
    public int SchemaVersion(DbConnection db) => db.ExecuteScalar<int>("SELECT MAX(version) FROM schema_version");

    /// <summary>A failure after which the same work may succeed when tried again (the database restarted, a deadlock).</summary>
    public abstract bool IsTransient(Exception e);

    /// <summary>
    /// Changes when the database server restarts (PostgreSQL's start time); constant for a file. A host that sees it
    /// change knows every host lost the database meanwhile, so their silence says nothing about them yet.
    /// </summary>
    public virtual string ServerEpoch(DbConnection db) => "";

    /// <summary>Called after a transient failure, before the retry (drops pooled connections that point at a dead server).</summary>
    public virtual void Reset()
    {
    }
}
