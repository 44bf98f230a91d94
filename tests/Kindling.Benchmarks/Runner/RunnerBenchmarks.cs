using System.Diagnostics;
using System.Globalization;
using Kindling.Runner.Composition;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Benchmarks.Runner;

/// <summary>
/// The runner suite, with the stub VM launcher (a real process per VM, no guest):
/// <list type="bullet">
/// <item>admission throughput: 1,000 jobs queued across 10 tenants in a real JobStore (SQLite, WAL), admitted
/// by <see cref="JobDispatcher.Admit"/> — the fair-share decision plus each job's queued → preparing
/// transaction — once with room for all, once on a 64-VM host where admitted jobs are finished (untimed)
/// between rounds; plus the fair-share step alone for reference;</item>
/// <item>latency from "a poll records the job" (<see cref="JobDispatcher.JobSeen"/>) to "the VM process
/// exists" (<see cref="JobRunner.VmSpawned"/>) through the whole daemon loop, one job at a time: with the stub
/// (a /bin/sh stand-in) and, when it is built, with the real kindling-vmm (spawned with --api-sock; it fails
/// at InstanceStart on the placeholder images, after the spawn that is measured);</item>
/// <item>a GitHub job from FakeGitHub's queue to its actions runner taking it (<see cref="GitHubJobBenchmark"/>).</item>
/// </list>
/// Prints a table and one JSON line.
/// </summary>
public static class RunnerBenchmarks
{
    private const int Queued = 1000;
    private const int Tenants = 10;
    private const double AdmitTarget = 200;

    /// <summary>Issue 20: fleet-wide admissions per second on PostgreSQL with three daemons.</summary>
    private const double FleetAdmitTarget = 500;
    private static readonly TimeSpan SpawnTarget = TimeSpan.FromMilliseconds(50);

    /// <summary>GitHub job queued → its runner process started, stub guest: API polls, registration, overlay, spawn and two execs.</summary>
    private static readonly TimeSpan GitHubTarget = TimeSpan.FromMilliseconds(250);
    private const int LatencySamples = 100;

    /// <summary>The suite, or with the part <c>warm</c> only the warm-start rows (<see cref="WarmStartBenchmark"/>).</summary>
    public static async Task<int> RunAsync(string[]? parts = null)
    {
        if (parts is ["warm"])
        {
            WarmRows(await WarmStartBenchmark.RunAsync());
            return 0;
        }

        double decision = SchedulerBenchmark.JobsAdmittedPerSecond();
        double allFit = Median(3, () => AdmissionsPerSecond(hostVms: Queued));
        double constrained = Median(3, () => AdmissionsPerSecond(hostVms: 64));
        Latency stub = await SpawnLatencyAsync(real: false);
        string vmm = Path.Combine(AppContext.BaseDirectory, "kindling-vmm");
        Latency? real = File.Exists(vmm) ? await SpawnLatencyAsync(real: true) : null;
        GitHubJobBenchmark.Result github = await GitHubJobBenchmark.QueuedToRunnerTookJobAsync();
        FleetBenchmark.Result? fleet = await FleetBenchmark.RunAsync();
        WarmStartBenchmark.Result warmStart = await WarmStartBenchmark.RunAsync();

        Console.WriteLine();
        Console.WriteLine($"{"benchmark",-58} {"value",12} {"target",10} {"ratio",7}  ok");
        _missed = 0;
        Row("admission incl. JobStore, all 1,000 fit (jobs/s)", allFit, AdmitTarget, higherIsBetter: true);
        Row("admission incl. JobStore, 64-VM host, rounds (jobs/s)", constrained, AdmitTarget, higherIsBetter: true);
        Row("fair-share decision alone (jobs/s)", decision, AdmitTarget, higherIsBetter: true);
        Row("poll sees job -> stub VM process spawned, median (ms)", stub.Median.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
        Row("poll sees job -> stub VM process spawned, p90 (ms)", stub.P90.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
        if (real is { } r)
        {
            Row("poll sees job -> kindling-vmm spawned, median (ms)", r.Median.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
            Row("poll sees job -> kindling-vmm spawned, p90 (ms)", r.P90.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
        }
        else
        {
            Console.WriteLine($"kindling-vmm spawn latency: skipped ({vmm} is not built)");
        }

        Row("GitHub job queued -> runner started in stub guest, median (ms)", github.Median.TotalMilliseconds, GitHubTarget.TotalMilliseconds, higherIsBetter: false);
        Row("GitHub job queued -> runner started in stub guest, p90 (ms)", github.P90.TotalMilliseconds, GitHubTarget.TotalMilliseconds, higherIsBetter: false);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  of which queued -> VM process spawned (poll, JIT registration, overlay, spawn): {github.SpawnMedian.TotalMilliseconds:N1} ms; the runner took the job (in_progress) at {github.TookJobMedian.TotalMilliseconds:N1} ms (medians)"));
        Console.WriteLine("  expected on hardware KVM with the github image: this + boot, MMDS and overlay, about 0.4-0.7 s to run.sh (GitHubJobBenchmark)");
        WarmRows(warmStart);

        if (fleet is { } f)
        {
            Row("fleet: admissions, PostgreSQL, 3 daemons (jobs/s)", f.PostgresAdmitsPerSecond, FleetAdmitTarget, higherIsBetter: true);
            Row("fleet: admissions, SQLite, 1 daemon, same loop (jobs/s)", f.SqliteAdmitsPerSecond, FleetAdmitTarget, higherIsBetter: true);
            Row("fleet: poll sees job -> stub VM spawned, median (ms)", f.SpawnMedian.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
            Row("fleet: poll sees job -> stub VM spawned, p90 (ms)", f.SpawnP90.TotalMilliseconds, SpawnTarget.TotalMilliseconds, higherIsBetter: false);
        }

        string githubJson = string.Create(CultureInfo.InvariantCulture, $$"""{"median":{{github.Median.TotalMilliseconds:F2}},"p90":{{github.P90.TotalMilliseconds:F2}},"spawn_median":{{github.SpawnMedian.TotalMilliseconds:F2}},"took_job_median":{{github.TookJobMedian.TotalMilliseconds:F2}}}""");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $$"""{"suite":"runner","admitted_per_s_all_fit":{{allFit:F0}},"admitted_per_s_64_vm_host":{{constrained:F0}},"decision_per_s":{{decision:F0}},"poll_to_spawn_stub_ms":{"median":{{stub.Median.TotalMilliseconds:F2}},"p90":{{stub.P90.TotalMilliseconds:F2}}},"poll_to_spawn_vmm_ms":{{(real is { } v ? string.Create(CultureInfo.InvariantCulture, $$"""{"median":{{v.Median.TotalMilliseconds:F2}},"p90":{{v.P90.TotalMilliseconds:F2}}}""") : "null")}},"github_queued_to_runner_started_stub_ms":{{githubJson}}}"""));
        if (_missed > 0)
        {
            Console.WriteLine($"runner: {_missed} figure(s) missed their target");
        }

        return _missed > 0 ? 1 : 0;
    }

    /// <summary>Job launched → first step output: cold boot, restore and warm slot with the stub, their ratios, and the KVM rows.</summary>
    private static void WarmRows(WarmStartBenchmark.Result warmStart)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"job launched -> first step output, stub, cold boot, median / p90 (ms)",-58} {warmStart.ColdMedian.TotalMilliseconds,12:N1} {warmStart.ColdP90.TotalMilliseconds,10:N1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"job launched -> first step output, stub, warm restore, median / p90 (ms)",-58} {warmStart.WarmMedian.TotalMilliseconds,12:N1} {warmStart.WarmP90.TotalMilliseconds,10:N1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{"job launched -> first step output, stub, warm slot, median / p90 (ms)",-58} {warmStart.SlotMedian.TotalMilliseconds,12:N1} {warmStart.SlotP90.TotalMilliseconds,10:N1}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  warm slot / restore {warmStart.SlotMedian / warmStart.WarmMedian:N2}, warm slot / cold boot {warmStart.SlotMedian / warmStart.ColdMedian:N2}, restore / cold boot {warmStart.WarmMedian / warmStart.ColdMedian:N2} (medians)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  the golden snapshot of the stub guest took {warmStart.GoldenTake.TotalMilliseconds:N0} ms (first job included)"));
        string kvmWhy = File.Exists("/dev/kvm") ? "needs a built guest image (kindling images build) and root: not run by this suite" : "no /dev/kvm on this host";
        Console.WriteLine($"{"job queued -> first step output, KVM, warm (target <= 15 s emulated)",-58} {"SKIPPED",12}  {kvmWhy}");
        Console.WriteLine($"{"job queued -> first step output, KVM, cold boot",-58} {"SKIPPED",12}  {kvmWhy}");
    }

    /// <summary>Jobs per second through <see cref="JobDispatcher.Admit"/> until all 1,000 are admitted.</summary>
    private static double AdmissionsPerSecond(int hostVms)
    {
        using var env = new Env(hostVms, quotaVms: Queued / Tenants, new StubVmLauncher(TimeSpan.Zero), new PlaceholderImageProvider(Path.Combine(Path.GetTempPath(), "kindling-bench-images")));
        JobStore store = env.Store;
        for (int i = 0; i < Queued; i++)
        {
            store.Enqueue(new NewJob
            {
                Tenant = $"t{i % Tenants}", Forge = "local", ForgeJobId = $"job-{i}", Repository = "bench", Name = $"job {i}",
                Labels = ["self-hosted", "kindling"], SpecJson = null, Vcpus = 1, MemoryMib = 256,
            });
        }

        JobDispatcher dispatcher = env.Dispatcher;
        var timed = new Stopwatch();
        int admitted = 0;
        while (admitted < Queued)
        {
            timed.Start();
            IReadOnlyList<long> round = dispatcher.Admit();
            timed.Stop();
            if (round.Count == 0)
            {
                throw new InvalidOperationException($"admission stalled at {admitted} of {Queued}");
            }

            admitted += round.Count;
            foreach (long id in round) // the jobs "finish" so the next round has room (not timed)
            {
                store.Transition(id, JobState.Preparing, JobState.Failed, "benchmark: never started");
                store.Transition(id, JobState.Failed, JobState.Cleaned, "benchmark");
            }
        }

        return admitted / timed.Elapsed.TotalSeconds;
    }

    private readonly record struct Latency(TimeSpan Median, TimeSpan P90);

    /// <summary>The daemon loop runs; jobs are submitted one at a time; each job's JobSeen → VmSpawned time is one sample.</summary>
    private static async Task<Latency> SpawnLatencyAsync(bool real)
    {
        IVmLauncher launcher = real
            ? new VmmLauncher(Path.Combine(AppContext.BaseDirectory, "kindling-vmm"))
            : new StubVmLauncher(TimeSpan.Zero);
        using var env = new Env(hostVms: 4, quotaVms: 4, launcher, new PlaceholderImageProvider(Path.Combine(Path.GetTempPath(), "kindling-bench-images")));
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        var spawned = new System.Collections.Concurrent.ConcurrentDictionary<long, long>();
        env.Dispatcher.JobSeen += id => seen[id] = Stopwatch.GetTimestamp();
        env.Runner.VmSpawned += id => spawned[id] = Stopwatch.GetTimestamp();
        using var stop = new CancellationTokenSource();
        Task loop = env.Dispatcher.RunAsync(stop.Token);
        var samples = new List<TimeSpan>();
        var spec = new JobSpec { Name = "bench", Steps = [new StepSpec { Name = "noop", Run = "exit 0" }] };
        for (int i = 0; i < LatencySamples + 5; i++)
        {
            string fid = env.Forge.Submit(spec, ["self-hosted", "kindling"]);
            JobRecord job = await WaitForAsync(() => env.Store.FindByForgeJob("local", fid) is { State: JobState.Cleaned } j ? j : null);
            if (i >= 5 && seen.TryGetValue(job.Id, out long t0) && spawned.TryGetValue(job.Id, out long t1)) // first 5: warm-up
            {
                samples.Add(Stopwatch.GetElapsedTime(t0, t1));
            }
        }

        await stop.CancelAsync();
        try
        {
            await loop;
        }
        catch (OperationCanceledException)
        {
        }

        if (samples.Count < LatencySamples / 2)
        {
            throw new InvalidOperationException($"only {samples.Count} jobs reached a VM spawn");
        }

        samples.Sort();
        return new Latency(samples[samples.Count / 2], samples[(int)(samples.Count * 0.9)]);
    }

    private static async Task<JobRecord> WaitForAsync(Func<JobRecord?> done)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (done() is { } job)
            {
                return job;
            }

            await Task.Delay(1);
        }

        throw new TimeoutException("a benchmark job did not finish within 60 s");
    }

    private static double Median(int runs, Func<double> run)
    {
        double[] values = [.. Enumerable.Range(0, runs).Select(_ => run()).Order()];
        return values[runs / 2];
    }

    /// <summary>Figures that missed their target in this run (the suite then exits 1).</summary>
    private static int _missed;

    private static void Row(string name, double value, double target, bool higherIsBetter)
    {
        double ratio = higherIsBetter ? value / target : target / value;
        bool ok = ratio >= 1; // NaN (nothing measured) is a miss too
        _missed += ok ? 0 : 1;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name,-58} {value,12:N1} {(higherIsBetter ? ">= " : "<= ") + target.ToString("N0", CultureInfo.InvariantCulture),10} {ratio,7:N1}  {(ok ? "yes" : "MISSED")}"));
    }

    /// <summary>The runner's real services (JobStore in a temp state directory) with the given launcher and images.</summary>
    private sealed class Env : IDisposable
    {
        private readonly ServiceProvider _sp;
        private readonly string _state = Directory.CreateTempSubdirectory("kindling-bench-").FullName;

        public Env(int hostVms, int quotaVms, IVmLauncher launcher, IImageProvider images)
        {
            var config = new Dictionary<string, string?>
            {
                ["Kindling:StateDirectory"] = _state,
                ["Kindling:Host:Vcpus"] = hostVms.ToString(CultureInfo.InvariantCulture),
                ["Kindling:Host:MemoryMib"] = (hostVms * 256).ToString(CultureInfo.InvariantCulture),
                ["Kindling:Pools:0:Name"] = "p", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
                ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
                ["Kindling:Launcher:Kind"] = "stub", ["Kindling:Launcher:Network"] = "false",
                ["Kindling:PollInterval"] = "00:00:00.010",
            };
            for (int t = 0; t < Tenants; t++)
            {
                config[$"Kindling:Tenants:{t}:Name"] = $"t{t}";
                config[$"Kindling:Tenants:{t}:Forge:Kind"] = "local";
                config[$"Kindling:Tenants:{t}:Weight"] = (1 + (t % 3)).ToString(CultureInfo.InvariantCulture);
                config[$"Kindling:Tenants:{t}:Quota:MaxVms"] = quotaVms.ToString(CultureInfo.InvariantCulture);
                config[$"Kindling:Tenants:{t}:Quota:Vcpus"] = quotaVms.ToString(CultureInfo.InvariantCulture);
                config[$"Kindling:Tenants:{t}:Quota:MemoryMib"] = (quotaVms * 256).ToString(CultureInfo.InvariantCulture);
            }

            var services = new ServiceCollection();
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Error));
            Forge = new LocalForge("t0");
            services.AddSingleton<IForge>(Forge);
            services.AddSingleton(launcher);
            services.AddSingleton(images);
            services.AddKindlingRunner(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
            _sp = services.BuildServiceProvider();
        }

        public LocalForge Forge { get; }
        public JobStore Store => _sp.GetRequiredService<JobStore>();
        public JobDispatcher Dispatcher => _sp.GetRequiredService<JobDispatcher>();
        public JobRunner Runner => _sp.GetRequiredService<JobRunner>();

        public void Dispose()
        {
            // the runner's warm pool is only IAsyncDisposable (it awaits its slots' VMs), which a synchronous
            // ServiceProvider.Dispose refuses; a console program has no synchronization context to block
            _sp.DisposeAsync().AsTask().GetAwaiter().GetResult();
            SqliteConnection.ClearAllPools();
            Directory.Delete(_state, recursive: true);
        }
    }
}
