using Kindling.Testing;
using Npgsql;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// One private PostgreSQL for the tests of the "postgres" collection (see <see cref="PostgresServer"/>); each test
/// gets a database of its own. Where PostgreSQL is not installed every such test skips, saying so.
/// </summary>
public sealed class PostgresFixture : IDisposable
{
    private readonly Lazy<PostgresServer?> _server = new(() => PostgresServer.SkipReason is null ? PostgresServer.Start() : null);

    public PostgresServer Server => _server.Value ?? throw new InvalidOperationException(PostgresServer.SkipReason);

    /// <summary>Skips the calling test where PostgreSQL is absent.</summary>
    public static void SkipIfAbsent() => Assert.SkipWhen(PostgresServer.SkipReason is not null, PostgresServer.SkipReason ?? "");

    /// <summary>A new empty database; returns its connection string.</summary>
    public string CreateDatabase()
    {
        SkipIfAbsent();
        string name = "k" + Guid.NewGuid().ToString("N")[..16];
        using (var db = new NpgsqlConnection(Server.ConnectionString()))
        {
            db.Open();
            using var cmd = new NpgsqlCommand($"CREATE DATABASE {name}", db);
            cmd.ExecuteNonQuery();
        }

        return Server.ConnectionString(name);
    }

    public void Dispose()
    {
        if (_server.IsValueCreated)
        {
            NpgsqlConnection.ClearAllPools();
            _server.Value?.Dispose();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "postgres";
}
