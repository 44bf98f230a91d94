using System.Globalization;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>
/// Warm slots (<c>Pools[].Warm</c>) through the daemon's job path (dispatcher, JobRunner, log pump), with the stub
/// launcher behind warm starts, its calls counted: what a job started from is asserted through them and the phases.
/// </summary>
public sealed class WarmPoolJobTests
{
    private const string Secret = "warm-slot-secret-4711";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Refill_PoolWithWarm2_TwoPausedSlotsHoldingNoJob()
    {
        (RunnerHarness h, CountingSnapshotLauncher c, _) = Start(warm: 2);
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            pool.Refill();
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 2);

            Assert.Equal(2, c.PausedRestores);
            Assert.Equal(1, c.Boots); // the golden boot; no slot boots
            Assert.Equal(0, c.Resumes);
            Assert.Equal(2, Directory.GetDirectories(pool.Root).Length);
            foreach (VmLaunchRequest r in c.PausedRequests)
            {
                Assert.Equal("{\"kindling\":{}}", c.Stub.MmdsOf(r.VmId));
            }
        }
    }

    [Fact]
    public async Task Run_JobOfTheWarmPool_StartsFromASlotWithoutARestoreSecretsOnlyThenAndThePoolRefills()
    {
        (RunnerHarness h, CountingSnapshotLauncher c, LocalForge forge) = Start(warm: 2);
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            pool.Refill();
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 2);
            string[] before = [.. c.PausedRequests.Select(r => c.Stub.MmdsOf(r.VmId) ?? "")];

            string id = forge.Submit(Specs.Steps("build", ("Say", "echo warm; echo key=$API_KEY; echo \"in $PWD\"")), Specs.Labels);
            await h.RunAllAsync(Ct);
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 2);

            JobRecord job = h.Store.FindByForgeJob("local", id)!;
            Assert.Equal(JobState.Cleaned, job.State);
            Assert.Equal(ForgeJobResult.Succeeded, forge.ResultOf(id));
            Assert.StartsWith("kindling-vm-warm", job.VmId, StringComparison.Ordinal);
            IReadOnlyList<JobPhase> phases = JobPhases.Load(JobPhases.PathFor(h.StateDirectory, job.Id));
            Assert.Equal([JobPhases.WarmSlot, "job received", "first step", "last step", "reset"], phases.Select(p => p.Name));
            Assert.Equal((0, 1, 1), (c.Restores, c.Resumes, c.Boots)); // resumed: no restore, no boot
            Assert.Equal(3, c.PausedRestores); // the two, then the refill of the one taken
            string log = await File.ReadAllTextAsync(job.LogPath!, Ct);
            Assert.Contains("warm", log, StringComparison.Ordinal);
            Assert.Contains("key=***", log, StringComparison.Ordinal);
            Assert.DoesNotContain("stub guest: booting", log, StringComparison.Ordinal);
            // The slot's folder became the job's: its steps ran there, and nothing of it was left under warm/.
            Assert.Contains($"in {Path.Combine(h.StateDirectory, "jobs", job.Id.ToString(CultureInfo.InvariantCulture), "workspace")}", log, StringComparison.Ordinal);
            Assert.Equal(2, Directory.GetDirectories(pool.Root).Length);
            Assert.All(Directory.GetDirectories(pool.Root), d => Assert.Contains(d, pool.Held().Directories));
            // The secret reached the job's VM only when it was taken: in no slot before, in no request a slot was made from.
            Assert.All(before, m => Assert.DoesNotContain(Secret, m, StringComparison.Ordinal));
            Assert.All(c.PausedRequests, r => Assert.DoesNotContain(Secret, r.Mmds.ToJsonString(), StringComparison.Ordinal));
            Assert.All(c.PausedRequests.Skip(2), r => Assert.DoesNotContain(Secret, c.Stub.MmdsOf(r.VmId) ?? "", StringComparison.Ordinal));
            Assert.Equal(1, Assert.Single(pool.Status()).Taken);
        }
    }

    [Fact]
    public async Task Run_FiveJobsQueuedAtOnceWithWarm2_EachRunsOnceWithinTheSlotsAndTheHostsCapacity()
    {
        // Room for 3 VMs of the pool: 2 slots and 1 job, or 3 jobs of which 2 took the slots.
        (RunnerHarness h, CountingSnapshotLauncher c, LocalForge forge) = Start(warm: 2, hostVcpus: 3);
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            pool.Refill();
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 2);

            string[] ids = [.. Enumerable.Range(0, 5).Select(i => forge.Submit(Specs.Steps($"job-{i}", ("Say", $"echo job {i}")), Specs.Labels))];
            await h.RunAllAsync(Ct);

            Assert.All(ids, id => Assert.Equal(ForgeJobResult.Succeeded, forge.ResultOf(id)));
            Assert.All(ids, id => Assert.Equal(1, h.Store.FindByForgeJob("local", id)!.Attempt));
            Assert.Equal(5, c.Resumes + c.Restores + c.Boots - 1); // each job once (less the golden boot)
            Assert.True(c.Resumes >= 2, $"{c.Resumes} jobs started from a slot");
            Assert.InRange(c.MaxPaused, 1, 2);
            Assert.InRange(c.MaxLive, 1, 3);
            IReadOnlyList<string> first = [.. ids.Select(id => JobPhases.Load(JobPhases.PathFor(h.StateDirectory, h.Store.FindByForgeJob("local", id)!.Id))[0].Name)];
            Assert.Equal(c.Resumes, first.Count(n => n == JobPhases.WarmSlot));
        }
    }

    [Fact]
    public async Task Dispose_DaemonStopsWithReadySlots_NoProcessFolderOrSlotLeft()
    {
        (RunnerHarness h, CountingSnapshotLauncher c, _) = Start(warm: 2);
        string root;
        int[] pids;
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            await using (h.StartLoop(Ct))
            {
                await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 2);
                root = pool.Root;
                pids = [.. ProcessInspector.WorkingUnder(root)];
                Assert.Equal(2, pids.Length);
            }

            // The loop has stopped (the daemon's stop): its slots are gone before the services are.
            Assert.Empty(ProcessInspector.WorkingUnder(root));
            Assert.All(pids, p => Assert.False(ProcessInspector.Exists(p) && ProcessInspector.CommandLineContains(p, root), $"pid {p} still runs"));
            Assert.Empty(Directory.GetDirectories(root));
            Assert.Equal(0, Assert.Single(pool.Status()).Ready);
            Assert.Equal(0, c.Resumes);
        }
    }

    [Fact]
    public async Task Run_WorkspaceJob_ColdBootsAndLeavesTheSlots()
    {
        (RunnerHarness h, CountingSnapshotLauncher c, LocalForge forge) = Start(warm: 1);
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            pool.Refill();
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 1);
            string workspace = Directory.CreateTempSubdirectory("kindling-warm-ws-").FullName;
            try
            {
                await File.WriteAllTextAsync(Path.Combine(workspace, "file.txt"), "from the workspace", Ct);
                JobSpec spec = Specs.Steps("replay", ("Cat", "cat file.txt")) with { Workspace = workspace };
                string id = forge.Submit(spec, Specs.Labels);
                await h.RunAllAsync(Ct);

                Assert.Equal(ForgeJobResult.Succeeded, forge.ResultOf(id));
                Assert.Equal(JobPhases.Boot, JobPhases.Load(JobPhases.PathFor(h.StateDirectory, h.Store.FindByForgeJob("local", id)!.Id))[0].Name);
                Assert.Equal(0, c.Resumes);
                Assert.Equal(1, Assert.Single(pool.Status()).Ready);
            }
            finally
            {
                Directory.Delete(workspace, recursive: true);
            }
        }
    }

    [Fact]
    public async Task ReapPeriodicAsync_SlotsOfACrashedRunnerBesideLiveOnes_OnlyTheLeftoversRemoved()
    {
        (RunnerHarness h, _, _) = Start(warm: 1);
        await using (h)
        {
            WarmPool pool = h.Get<WarmPool>();
            pool.Refill();
            await WarmPoolTests.UntilAsync(pool, s => s[0].Ready == 1);
            // What a runner that crashed left: a pool of its own under the same state directory, still running at the reap.
            await using var crashed = new WarmPool(h.Get<IOptions<KindlingOptions>>(), h.Get<IVmLauncher>(), h.Get<IImageProvider>(), new NoTapManager(),
                TimeProvider.System, NullLogger<WarmPool>.Instance);
            crashed.Refill();
            await WarmPoolTests.UntilAsync(crashed, s => s[0].Ready == 1);
            string mine = Assert.Single(pool.Held().Directories), theirs = Assert.Single(crashed.Held().Directories);
            Assert.Equal(2, ProcessInspector.WorkingUnder(pool.Root).Count);

            await h.Reaper.ReapPeriodicAsync(new HashSet<long>(), Ct);

            Assert.True(Directory.Exists(mine));
            Assert.False(Directory.Exists(theirs));
            Assert.Single(ProcessInspector.WorkingUnder(pool.Root));
            Assert.Equal(1, pool.Status()[0].Ready);
        }
    }

    /// <summary>A harness whose one pool keeps <paramref name="warm"/> slots, with warm starts over a counting stub.</summary>
    private static (RunnerHarness, CountingSnapshotLauncher, LocalForge) Start(int warm, int hostVcpus = 16)
    {
        var c = new CountingSnapshotLauncher(new StubVmLauncher(TimeSpan.FromMilliseconds(20)));
        LocalForge forge = Specs.Local("acme");
        var config = RunnerHarness.Merge(
            RunnerHarness.LocalTenant(0, "acme", secrets: ("API_KEY", Secret)),
            new Dictionary<string, string?>
            {
                ["Kindling:Pools:0:Warm"] = warm.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Kindling:Host:Vcpus"] = hostVcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Kindling:Launcher:Snapshots"] = "true",
            });
        var h = new RunnerHarness(config, s => s.AddSingleton<IVmLauncher>(sp => Warm(sp, c)), forge);
        return (h, c, forge);
    }

    private static WarmStarts Warm(IServiceProvider sp, CountingSnapshotLauncher c)
    {
        KindlingOptions o = sp.GetRequiredService<IOptions<KindlingOptions>>().Value;
        var store = new SnapshotStore(Path.Combine(o.StateDirectory, "images", "snapshots"), TimeProvider.System);
#pragma warning disable CA2000 // lives as long as the test's services
        var golden = new GoldenSnapshot(c, c, store, sp.GetRequiredService<IImageProvider>(), new NoTapManager(), TimeSpan.FromMinutes(1));
#pragma warning restore CA2000
        return new WarmStarts(c, c, store, golden, TimeProvider.System, NullLogger<WarmStarts>.Instance);
    }
}
