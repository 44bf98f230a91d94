using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Kindling.Runner.Jobs;

/// <summary>One host's job database: a SQLite file in WAL mode (the default store).</summary>
public sealed class SqliteDialect : StoreDialect
{
    private readonly string _connectionString;

    public SqliteDialect(string databasePath)
    {
        DatabasePath = databasePath;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(databasePath))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            DefaultTimeout = 30,
            Pooling = true,
        }.ToString();
    }

    public string DatabasePath { get; }

    public override string Kind => "sqlite";

    public override bool IsShared => false;

    public override string Describe => DatabasePath;

    public override string ForUpdate => "";

    public override string ForUpdateSkipLocked => "";

    public override string Contains(string haystack, string needle) => $"instr({haystack}, {needle}) > 0";

    /// <summary>Dapper expands the list into one parameter per element.</summary>
    public override string In(string column, string list) => $"{column} IN {list}";

    public override DbConnection Open()
    {
        var db = new SqliteConnection(_connectionString);
        db.Open();
        db.Execute("PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL");
        return db;
    }

    /// <summary>BEGIN IMMEDIATE: takes the write lock up front, so read-check-write cannot interleave across processes.</summary>
    public override DbTransaction BeginWrite(DbConnection db) => ((SqliteConnection)db).BeginTransaction(deferred: false);

    public override void Migrate()
    {
        using var db = (SqliteConnection)Open();
        JobStoreMigrations.Apply(db, this);
    }

    /// <summary>SQLite waits out a busy database itself (busy_timeout); nothing else is worth a retry.</summary>
    public override bool IsTransient(Exception e) => false;
}
