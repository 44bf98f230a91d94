using System.Diagnostics;
using System.Globalization;
using Kindling.Runner.Composition;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Kindling.Testing.FakeForge;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Benchmarks.Runner;

/// <summary>
/// A GitHub job's way to its runner: FakeGitHub queues a job; the daemon loop polls it, registers the JIT runner,
/// builds the overlay and starts the VM, whose actions runner (<see cref="FakeActionsRunner"/>) starts (its first line
/// reaches the log pump: the figure), decodes its JIT config and takes the job from the fake (in_progress; reported
/// beside it, though it is mostly the stand-in script's own programs). One job at a time, each to the end before the
/// next is queued. With the stub launcher the "guest" is the stub's: no kernel boots, so the figure is the runner's
/// own path (poll, GitHub API round trips, JobStore, overlay, spawn) plus the runner script's start.
/// </summary>
/// <remarks>
/// Expected on hardware KVM with the <c>github</c> image: this figure plus the microVM's boot to the agent (kindling-vmm
/// cold exec → first serial byte ~90–120 ms measured here, a Debian cloud kernel to init ~150–300 ms with
/// Firecracker-class devices), the agent's MMDS reads (a few ms each on the in-VMM responder) and the per-job overlay
/// (mkfs.ext4 -d of an empty workspace, ~30–60 ms): about 0.4–0.7 s from queued to run.sh, half a poll interval more
/// without the webhook. The official Runner.Listener then needs ~1–2 s of .NET start-up and its broker session
/// before GitHub shows the job in progress. On a host whose KVM emulates guest kernel code (kvm-pvm, this
/// development VM) the boot alone takes minutes: the number to compare is the stub's, plus the boot.
/// </remarks>
public static class GitHubJobBenchmark
{
    public const int Samples = 30;
    private const int WarmUp = 3;

    /// <param name="Median">Queued → the runner process started in the guest (its first output line reached the log pump), median.</param>
    /// <param name="SpawnMedian">Queued → the VM process exists (Kindling's part of it), median.</param>
    /// <param name="TookJobMedian">Queued → the runner took the job on the forge (in_progress), median.</param>
    public readonly record struct Result(TimeSpan Median, TimeSpan P90, TimeSpan SpawnMedian, TimeSpan TookJobMedian, int Samples);

    public static async Task<Result> QueuedToRunnerTookJobAsync()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        string state = Directory.CreateTempSubdirectory("kindling-bench-gh-").FullName;
        var config = new Dictionary<string, string?>
        {
            ["Kindling:StateDirectory"] = state,
            ["Kindling:Host:Vcpus"] = "4", ["Kindling:Host:MemoryMib"] = "4096",
            ["Kindling:Pools:0:Name"] = "p", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
            ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
            ["Kindling:Launcher:Kind"] = "stub", ["Kindling:Launcher:Network"] = "false",
            ["Kindling:PollInterval"] = "00:00:00.010",
            ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
            ["Kindling:Tenants:0:Credentials:Token"] = "ghp_bench", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
        };
        var images = new PlaceholderImageProvider(Path.Combine(state, "images"));
        FakeActionsRunner.WriteTo(Path.Combine(images.ImageFiles, "opt", "actions-runner"));
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Error));
        services.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero));
        services.AddSingleton<IImageProvider>(images);
        services.AddKindlingRunner(new ConfigurationBuilder().AddInMemoryCollection(config).Build());
        List<TimeSpan> samples = [];
        List<TimeSpan> spawns = [];
        List<TimeSpan> took = [];
        await using (ServiceProvider sp = services.BuildServiceProvider())
        {
            JobStore store = sp.GetRequiredService<JobStore>();
            long spawned = 0, started = 0;
            JobRunner runner = sp.GetRequiredService<JobRunner>();
            runner.VmSpawned += _ => Interlocked.Exchange(ref spawned, Stopwatch.GetTimestamp());
            runner.LiveObserver = _ => new FirstLine(FakeActionsRunner.StartedLine, () => Interlocked.Exchange(ref started, Stopwatch.GetTimestamp()));
            using var stop = new CancellationTokenSource();
            Task loop = sp.GetRequiredService<JobDispatcher>().RunAsync(stop.Token);
            for (int i = 0; i < Samples + WarmUp; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                FakeJob job = fake.QueueJob("acme/app", $"bench-{i}", "self-hosted", "kindling");
                await WaitAsync(() => job.Status != "queued", $"job {i} was not taken by a runner");
                TimeSpan taken = Stopwatch.GetElapsedTime(t0);
                string id = job.Id.ToString(CultureInfo.InvariantCulture);
                await WaitAsync(() => store.FindByForgeJob("github", id) is { State: JobState.Cleaned }, $"job {i} did not finish");
                if (job.Conclusion != "success")
                {
                    throw new InvalidOperationException($"job {i} ended {job.Status}/{job.Conclusion}");
                }

                if (i >= WarmUp)
                {
                    samples.Add(Stopwatch.GetElapsedTime(t0, Interlocked.Read(ref started)));
                    spawns.Add(Stopwatch.GetElapsedTime(t0, Interlocked.Read(ref spawned)));
                    took.Add(taken);
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
        }

        SqliteConnection.ClearAllPools();
        Directory.Delete(state, recursive: true);
        samples.Sort();
        spawns.Sort();
        took.Sort();
        return new Result(samples[samples.Count / 2], samples[(int)(samples.Count * 0.9)], spawns[spawns.Count / 2], took[took.Count / 2], samples.Count);
    }

    /// <summary>Calls <paramref name="seen"/> when the first line starting with <paramref name="prefix"/> reaches the log pump.</summary>
    private sealed class FirstLine(string prefix, Action seen) : Kindling.Runner.Logs.ILogObserver
    {
        private int _done;

        public void OnLine(long offset, string maskedLine)
        {
            if (maskedLine.StartsWith(prefix, StringComparison.Ordinal) && Interlocked.Exchange(ref _done, 1) == 0)
            {
                seen();
            }
        }
    }

    /// <summary>Polls <paramref name="done"/> every millisecond (a benchmark's wait, not a test's) for up to a minute.</summary>
    private static async Task WaitAsync(Func<bool> done, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!done())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new TimeoutException($"{what} within 60 s");
            }

            await Task.Delay(1);
        }
    }
}
