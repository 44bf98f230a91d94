using System.Diagnostics;
using System.Globalization;
using Dapper;
using Kindling.Runner.Composition;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Kindling.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Kindling.Benchmarks.Runner;

/// <summary>
/// The fleet on a private PostgreSQL (<see cref="PostgresServer"/>), daemons in this process with the stub launcher:
/// <list type="bullet">
/// <item>admissions per second fleet-wide: 3,000 jobs over 10 tenants, three daemons (64 VMs each) each calling
/// <see cref="JobDispatcher.Admit"/> in a loop until the queue is empty; admitted jobs are finished between rounds
/// with one batch statement (counted in the wall time, so the figure is a lower bound); the same with one daemon
/// on SQLite for comparison;</item>
/// <item>poll → VM spawn in fleet mode: three daemons running their loops, one tenant's forge polled by the holder of
/// its poller lease; each job's "a poll recorded it" (on the polling host) → "its VM process exists" (on whichever
/// host admitted it).</item>
/// </list>
/// </summary>
public static class FleetBenchmark
{
    private const int Jobs = 3000;
    private const int Tenants = 10;
    private const int HostVms = 64;
    private const int LatencySamples = 60;

    public sealed record Result(double PostgresAdmitsPerSecond, double SqliteAdmitsPerSecond, TimeSpan SpawnMedian, TimeSpan SpawnP90);

    /// <summary>Null (with the reason printed) where PostgreSQL is not installed.</summary>
    public static async Task<Result?> RunAsync()
    {
        if (PostgresServer.SkipReason is { } why)
        {
            Console.WriteLine($"fleet benchmarks: skipped ({why})");
            return null;
        }

        using PostgresServer server = PostgresServer.Start();
        try
        {
            double pg = AdmissionsPerSecond(3, () => new PostgresDialect(CreateDatabase(server)));
            string dir = Directory.CreateTempSubdirectory("kindling-bench-fleet-").FullName;
            double sqlite = AdmissionsPerSecond(1, () => new SqliteDialect(Path.Combine(dir, "kindling.db")));
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dir, recursive: true);
            (TimeSpan median, TimeSpan p90) = await SpawnLatencyAsync(CreateDatabase(server));
            return new Result(pg, sqlite, median, p90);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
        }
    }

    private static double AdmissionsPerSecond(int daemons, Func<StoreDialect> database)
    {
        StoreDialect first = database();
        string? cs = first is PostgresDialect ? Environment.GetEnvironmentVariable(DbEnv) : null;
        List<Daemon> fleet = [.. Enumerable.Range(1, daemons).Select(i => new Daemon($"bench-{i}", cs, first is SqliteDialect s ? s.DatabasePath : null, new LocalForge("t0"), hostVms: HostVms))];
        try
        {
            JobStore store = fleet[0].Store;
            for (int i = 0; i < Jobs; i++)
            {
                store.Enqueue(new NewJob
                {
                    Tenant = $"t{i % Tenants}", Forge = "local", ForgeJobId = $"job-{i}", Repository = "bench", Name = $"job {i}",
                    Labels = ["self-hosted", "kindling"], Vcpus = 1, MemoryMib = 256,
                });
            }

            int admitted = 0;
            var clock = Stopwatch.StartNew();
            Parallel.ForEach(fleet, new ParallelOptions { MaxDegreeOfParallelism = daemons }, d =>
            {
                int idle = 0;
                while (Volatile.Read(ref admitted) < Jobs && idle < 10_000)
                {
                    IReadOnlyList<long> round = d.Dispatcher.Admit();
                    if (round.Count == 0)
                    {
                        idle++;
                        Thread.Yield();
                        continue;
                    }

                    Interlocked.Add(ref admitted, round.Count);
                    using System.Data.Common.DbConnection db = store.Dialect.Open();
                    db.Execute($"UPDATE jobs SET state = 'cleaned' WHERE {store.Dialect.In("id", "@ids")}", new { ids = round.ToArray() }); // benchmark scaffolding: the VMs "finish"
                }
            });
            clock.Stop();
            if (admitted != Jobs)
            {
                throw new InvalidOperationException($"admission stalled at {admitted} of {Jobs}");
            }

            return admitted / clock.Elapsed.TotalSeconds;
        }
        finally
        {
            fleet.ForEach(d => d.Dispose());
        }
    }

    private static async Task<(TimeSpan Median, TimeSpan P90)> SpawnLatencyAsync(string connectionString)
    {
        Environment.SetEnvironmentVariable(DbEnv, connectionString);
        var forge = new LocalForge("t0");
        List<Daemon> fleet = [.. Enumerable.Range(1, 3).Select(i => new Daemon($"bench-{i}", connectionString, null, forge, hostVms: 4))];
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        var spawned = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        foreach (Daemon d in fleet)
        {
            d.Dispatcher.JobSeen += id => seen.TryAdd(id, Stopwatch.GetTimestamp());
            d.Runner.VmSpawned += id => spawned.TryAdd(id, Stopwatch.GetTimestamp());
        }

        using var stop = new CancellationTokenSource();
        Task[] loops = [.. fleet.Select(d => d.Dispatcher.RunAsync(stop.Token))];
        var samples = new List<TimeSpan>();
        try
        {
            var spec = new JobSpec { Name = "bench", Steps = [new StepSpec { Name = "noop", Run = "exit 0" }] };
            for (int i = 0; i < LatencySamples + 5; i++)
            {
                string fid = forge.Submit(spec, ["self-hosted", "kindling"]);
                var clock = Stopwatch.StartNew();
                JobRecord? job = null;
                while (clock.Elapsed < TimeSpan.FromSeconds(60) && (job = fleet[0].Store.FindByForgeJob("local", fid)) is not { State: JobState.Cleaned })
                {
                    await Task.Delay(1);
                }

                if (i >= 5 && job is not null && seen.TryGetValue(job.Id, out long t0) && spawned.TryGetValue(job.Id, out long t1))
                {
                    samples.Add(Stopwatch.GetElapsedTime(t0, t1));
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            foreach (Task l in loops)
            {
                try
                {
                    await l;
                }
                catch (OperationCanceledException)
                {
                }
            }

            fleet.ForEach(d => d.Dispose());
        }

        if (samples.Count < LatencySamples / 2)
        {
            throw new InvalidOperationException($"only {samples.Count} fleet jobs reached a VM spawn");
        }

        samples.Sort();
        return (samples[samples.Count / 2], samples[(int)(samples.Count * 0.9)]);
    }

    private const string DbEnv = "KINDLING_BENCH_DATABASE";

    private static string CreateDatabase(PostgresServer server)
    {
        string name = "bench" + Guid.NewGuid().ToString("N")[..12];
        using (var db = new NpgsqlConnection(server.ConnectionString()))
        {
            db.Open();
            db.Execute($"CREATE DATABASE {name}");
        }

        string cs = server.ConnectionString(name);
        Environment.SetEnvironmentVariable(DbEnv, cs);
        return cs;
    }

    /// <summary>One daemon's services: its own state directory, the shared store (PostgreSQL, or the SQLite file given).</summary>
    private sealed class Daemon : IDisposable
    {
        private readonly ServiceProvider _sp;
        private readonly string _state = Directory.CreateTempSubdirectory("kindling-bench-").FullName;

        public Daemon(string name, string? postgres, string? sqlite, LocalForge forge, int hostVms)
        {
            var config = new Dictionary<string, string?>
            {
                ["Kindling:StateDirectory"] = _state, ["Kindling:HostName"] = name,
                ["Kindling:Host:Vcpus"] = hostVms.ToString(CultureInfo.InvariantCulture),
                ["Kindling:Host:MemoryMib"] = (hostVms * 256).ToString(CultureInfo.InvariantCulture),
                ["Kindling:Pools:0:Name"] = "p", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
                ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
                ["Kindling:Launcher:Kind"] = "stub", ["Kindling:Launcher:Network"] = "false",
                ["Kindling:PollInterval"] = "00:00:00.010",
                ["Kindling:Store:Kind"] = postgres is null ? "sqlite" : "postgres", ["Kindling:Store:ConnectionStringEnv"] = DbEnv,
            };
            for (int t = 0; t < Tenants; t++)
            {
                config[$"Kindling:Tenants:{t}:Name"] = $"t{t}";
                config[$"Kindling:Tenants:{t}:Forge:Kind"] = "local";
                config[$"Kindling:Tenants:{t}:Quota:MaxVms"] = "1000";
                config[$"Kindling:Tenants:{t}:Quota:Vcpus"] = "1000";
                config[$"Kindling:Tenants:{t}:Quota:MemoryMib"] = (1000 * 256).ToString(CultureInfo.InvariantCulture);
            }

            var services = new ServiceCollection();
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Error));
            services.AddSingleton<IForge>(forge);
            services.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero));
            services.AddSingleton<IImageProvider>(new PlaceholderImageProvider(Path.Combine(Path.GetTempPath(), "kindling-bench-images")));
            if (sqlite is not null)
            {
                services.AddSingleton(sp => new JobStore(sqlite, TimeProvider.System));
            }

            services.AddKindlingRunner(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
            _sp = services.BuildServiceProvider();
        }

        public JobStore Store => _sp.GetRequiredService<JobStore>();
        public JobDispatcher Dispatcher => _sp.GetRequiredService<JobDispatcher>();
        public JobRunner Runner => _sp.GetRequiredService<JobRunner>();

        public void Dispose()
        {
            // the runner's warm pool is only IAsyncDisposable (it awaits its slots' VMs), which a synchronous
            // ServiceProvider.Dispose refuses; a console program has no synchronization context to block
            _sp.DisposeAsync().AsTask().GetAwaiter().GetResult();
            Directory.Delete(_state, recursive: true);
        }
    }
}
