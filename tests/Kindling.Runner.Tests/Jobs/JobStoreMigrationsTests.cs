using Dapper;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Microsoft.Data.Sqlite;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>Opening the job database: a newer schema is refused untouched; several openers at once migrate it once.</summary>
public sealed class JobStoreMigrationsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-migrations-").FullName;
    private readonly FakeTimeProvider _time = new();

    private string Db => Path.Combine(_dir, "kindling.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>
    /// A database a newer kindling wrote (schema version Latest + 1, a table of its own, and another journal mode)
    /// is refused with a message naming both versions and what to do, and not one byte of it changes (no WAL switch).
    /// </summary>
    [Fact]
    public void Open_NewerSchemaVersion_RefusedClearlyAndDatabaseUnchanged()
    {
        _ = new JobStore(Db, _time).Enqueue(new NewJob
        {
            Tenant = "acme", Forge = "github", ForgeJobId = "1", Repository = "acme/app", Name = "build", Labels = ["self-hosted"],
        });
        int newer = JobStoreMigrations.Latest + 1;
        SqliteConnection.ClearAllPools(); // the store's pooled connection would keep the journal mode from changing
        using (var db = new SqliteConnection($"Data Source={Db};Pooling=False"))
        {
            db.Open();
            db.Execute("CREATE TABLE future_things (id INTEGER PRIMARY KEY)");
            db.Execute("INSERT INTO schema_version (version) VALUES (@newer)", new { newer });
            db.Execute("PRAGMA journal_mode=DELETE");
        }

        SqliteConnection.ClearAllPools();
        byte[] before = File.ReadAllBytes(Db);

        JobStoreSchemaException e = Assert.Throws<JobStoreSchemaException>(() => new JobStore(Db, _time));

        Assert.Contains($"has schema version {newer}, newer than this kindling knows ({JobStoreMigrations.Latest})", e.Message, StringComparison.Ordinal);
        Assert.Contains(Db, e.Message, StringComparison.Ordinal);
        Assert.Contains("Kindling:StateDirectory", e.Message, StringComparison.Ordinal);
        Assert.Contains("was not changed", e.Message, StringComparison.Ordinal);
        SqliteConnection.ClearAllPools();
        Assert.Equal(before, File.ReadAllBytes(Db));
        Assert.False(File.Exists(Db + "-wal"), "the refused database was switched to WAL");
    }

    /// <summary>
    /// Eight stores (each its own connection, as eight processes would) open a new database at the same moment: all
    /// succeed, each migration is applied exactly once, and all of them can use it.
    /// </summary>
    [Fact]
    public void Open_ManyAtOnceOnNewDatabase_AllSucceedSchemaMigratedOnce()
    {
        const int openers = 8;
        using var start = new Barrier(openers);
        var stores = new JobStore?[openers];
        var errors = new Exception?[openers];
        Thread[] threads = [.. Enumerable.Range(0, openers).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            try
            {
                stores[i] = new JobStore(Db, _time);
            }
            catch (Exception e)
            {
                errors[i] = e;
            }
        }))];
        foreach (Thread t in threads)
        {
            t.Start();
        }

        foreach (Thread t in threads)
        {
            t.Join();
        }

        Assert.All(errors, e => Assert.Null(e));
        using var db = new SqliteConnection($"Data Source={Db};Pooling=False");
        db.Open();
        Assert.Equal(Enumerable.Range(1, JobStoreMigrations.Latest), db.Query<int>("SELECT version FROM schema_version ORDER BY version"));
        Assert.Equal("wal", db.ExecuteScalar<string>("PRAGMA journal_mode"));
        for (int i = 0; i < openers; i++)
        {
            (JobRecord job, bool created) = stores[i]!.Enqueue(new NewJob
            {
                Tenant = "acme", Forge = "github", ForgeJobId = $"job-{i}", Repository = "acme/app", Name = "build", Labels = ["self-hosted"],
            });
            Assert.True(created);
            Assert.Equal(JobState.Queued, job.State);
        }

        Assert.Equal(openers, stores[0]!.List().Count);
    }
}
