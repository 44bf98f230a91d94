using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Microsoft.Data.Sqlite;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// `kindling daemon` as a child process (FakeForge; the stub launcher, or the real kindling-vmm with the test
/// guest), killed with SIGKILL while a job is in each live stage, then restarted: the job ends cleaned (re-queued
/// and run again when no guest code had run, failed when it was running), nothing is left (VM process, TAP, work
/// directory with the overlay, jail directory or cgroup, GitHub runner) and no forge job gets a second row.
/// In the postgres collection, one class at a time with <see cref="Scheduling.FleetProcessTests"/>: both start daemons that
/// share this machine's <c>table inet kindling</c>, and a daemon starting while another tears a VM down can re-add that
/// VM's elements (the next reaper pass removes them, but these tests look right after their daemon stopped).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class CrashRecoveryTests : IAsyncLifetime
{
    private static readonly TimeSpan StageWait = TimeSpan.FromSeconds(90);

    /// <summary>How long a SIGKILLed daemon may take to be reaped with its output pipes at end of file.</summary>
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(20);

    private readonly string _state = Directory.CreateTempSubdirectory("kindling-crash-").FullName;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();
    private readonly List<DaemonProcess> _daemons = [];
    private readonly bool _network = HostFacts.RootUnavailableReason is null;
    private bool _tableBefore;
    private FakeGitHub _fake = null!;

    private string Db => Path.Combine(_state, "kindling.db");

    public async ValueTask InitializeAsync()
    {
        _fake = await FakeGitHub.StartAsync();
        _tableBefore = _network && await DaemonProcess.NftAsync("list table inet kindling") == 0;
        // The stand-in base image the stub boots holds an actions runner that succeeds (without one, a GitHub job fails).
        RunnerHarness.InstallActionsRunner(Path.Combine(_state, "images"), RunnerHarness.SucceedingActionsRunner);

        // Job ids (and so VM ids and TAP names) unique on this host: other tests and daemons use small ids.
        _ = new JobStore(Db, TimeProvider.System);
        using var db = new SqliteConnection($"Data Source={Db}");
        db.Open();
        using SqliteCommand seed = db.CreateCommand();
        seed.CommandText = "INSERT INTO sqlite_sequence (name, seq) VALUES ('jobs', $seq)";
        seed.Parameters.AddWithValue("$seq", Random.Shared.NextInt64(1_000_000, 9_000_000_000));
        seed.ExecuteNonQuery();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (DaemonProcess d in _daemons)
        {
            d.Dispose();
        }

        // The daemons created this host's table inet kindling; a host that had none is left with none once it is empty.
        if (_network && !_tableBefore && (await DaemonProcess.GuestNetworkTapsAsync()).Count == 0)
        {
            await DaemonProcess.NftAsync("delete table inet kindling");
        }

        // A failed test must not leave its VMs running: anything whose working directory is ours goes.
        DaemonProcess.KillProcessesUnder(_state);

        // …nor their jails (a test that failed before the restart's teardown).
        foreach (JobRecord job in File.Exists(Db) ? new JobStore(Db, TimeProvider.System).List() : [])
        {
            if (job.VmId is { } vm && Directory.Exists($"/srv/jailer/kindling-vmm/{vm}"))
            {
                using Process destroy = Process.Start(Path.Combine(AppContext.BaseDirectory, "kindling-vmm"), ["jail", "--destroy", "--id", vm])!;
                await destroy.WaitForExitAsync();
            }
        }

        await _fake.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_state, recursive: true);
    }

    [Theory]
    [InlineData(JobState.Preparing)]
    [InlineData(JobState.Booting)]
    [InlineData(JobState.Running)]
    [InlineData(JobState.Succeeded)]
    public async Task KillDaemon_DuringStage_RestartLeavesJobCleanedAndNothingBehind(JobState stage)
    {
        _fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        if (stage == JobState.Preparing)
        {
            _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = TimeSpan.FromMinutes(5), PathContains = "generate-jitconfig" });
        }

        if (stage == JobState.Succeeded)
        {
            // Finished, not cleaned: teardown hangs on removing the GitHub runner when the daemon is killed.
            _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = TimeSpan.FromMinutes(5), PathContains = "/actions/runners/", Method = "DELETE" });
        }

        JobRecord during = await RunAndKillAsync(WriteConfig("first.json", Stub(
            bootDelay: stage == JobState.Booting ? TimeSpan.FromMinutes(5) : TimeSpan.Zero,
            jobDuration: stage == JobState.Running ? TimeSpan.FromMinutes(5) : TimeSpan.FromMilliseconds(100))), stage);

        JobRecord after = await RestartUntilCleanedAsync(WriteConfig("second.json", Stub(TimeSpan.Zero, TimeSpan.FromMilliseconds(100))));

        IReadOnlyList<JobTransition> history = new JobStore(Db, TimeProvider.System).Transitions(after.Id);
        if (stage == JobState.Running)
        {
            Assert.Contains(history, t => t.To == JobState.Failed && t.Reason.Contains("restarted while the job was running", StringComparison.Ordinal));
            Assert.Equal(1, after.Attempt);
        }
        else if (stage == JobState.Succeeded)
        {
            Assert.Equal([JobState.Queued, JobState.Preparing, JobState.Booting, JobState.Running, JobState.Succeeded, JobState.Cleaned], history.Select(t => t.To));
            Assert.Equal(1, after.Attempt);
        }
        else
        {
            Assert.Contains(history, t => t.From == stage && t.To == JobState.Queued && t.Reason.StartsWith("re-queued", StringComparison.Ordinal));
            Assert.Contains(history, t => t.To == JobState.Succeeded);
            Assert.Equal(2, after.Attempt);
        }

        AssertNothingLeft(during, after);
    }

    /// <summary>The real kindling-vmm, killed under it while it waits for JIT registration (no VMM yet).</summary>
    [KvmFact]
    public Task KillDaemon_PreparingWithRealVmm_RestartRequeuesRunsAgainNothingBehind() => RealVmmAsync(JobState.Preparing);

    /// <summary>The real kindling-vmm is up (the test guest spins in its loop scenario) when the daemon is killed.</summary>
    [KvmFact]
    public Task KillDaemon_BootingWithRealVmm_RestartKillsVmmRequeuesNothingBehind() => RealVmmAsync(JobState.Booting);

    private async Task RealVmmAsync(JobState stage)
    {
        _fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        if (stage == JobState.Preparing)
        {
            _fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = TimeSpan.FromMinutes(5), PathContains = "generate-jitconfig" });
        }

        // First run: a guest that never says job-start (so the job stays booting while the VMM runs it).
        string spinning = GuestImages("spin", "kindling.test=loop kindling.loops=1000000000000");
        JobRecord during = await RunAndKillAsync(WriteConfig("first.json", RealVmm(spinning)), stage);
        if (stage == JobState.Booting)
        {
            // The daemon jails its VMMs (it runs as root here): the VM outlives it inside its jail, as the jail's
            // uid (the jailer may still be building the jail when the daemon is killed: wait for it).
            int pid = during.VmmPid!.Value;
            string root = $"/srv/jailer/kindling-vmm/{during.VmId}/root";
            int? jailed = null;
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < ExitWait && jailed is null; await Task.Delay(50, TestContext.Current.CancellationToken))
            {
                string children = File.Exists($"/proc/{pid}/task/{pid}/children") ? File.ReadAllText($"/proc/{pid}/task/{pid}/children").Trim() : "";
                jailed = Directory.Exists(root) && children.Length > 0 ? int.Parse(children.Split(' ')[0], CultureInfo.InvariantCulture) : null;
            }

            Assert.True(jailed is not null, $"VM {during.VmId} did not start in a jail: {DaemonProcess.Cmdline(pid)}");
            string Uid() => File.ReadLines($"/proc/{jailed}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1];
            for (var clock = Stopwatch.StartNew(); clock.Elapsed < ExitWait && Uid() == "0"; await Task.Delay(50, TestContext.Current.CancellationToken))
            {
                // jail-init runs as root until its uid drop
            }

            Assert.Equal("64500", Uid());
        }

        // Second run: a guest that prints its greeting and resets at once: the VMM exits 0 before any job-start,
        // so the second attempt fails with that reason — but it ran, on the real VMM, and was torn down.
        string hello = GuestImages("hello", "kindling.test=hello");
        JobRecord after = await RestartUntilCleanedAsync(WriteConfig("second.json", RealVmm(hello)));

        IReadOnlyList<JobTransition> history = new JobStore(Db, TimeProvider.System).Transitions(after.Id);
        Assert.Contains(history, t => t.From == stage && t.To == JobState.Queued && t.Reason.StartsWith("re-queued", StringComparison.Ordinal));
        Assert.Equal(2, after.Attempt);
        Assert.Contains(history, t => t.To == JobState.Failed && t.Reason.Contains("the VM exited with code 0 while booting", StringComparison.Ordinal));
        string log = await File.ReadAllTextAsync(after.LogPath!, TestContext.Current.CancellationToken);
        Assert.True(log.Contains("Hello from the Kindling test guest", StringComparison.Ordinal),
            $"the second attempt's guest did not greet; log: '{log}'; {string.Join("; ", history.Select(t => $"{t.From}→{t.To}: {t.Reason}"))}");
        AssertNothingLeft(during, after);
    }

    /// <summary>Starts the daemon, waits until the job is in <paramref name="stage"/> (with its VM up past preparing), SIGKILLs it.</summary>
    private async Task<JobRecord> RunAndKillAsync(string config, JobState stage)
    {
        DaemonProcess daemon = StartDaemon(config);
        // Preparing: once its resources are recorded (work directory, TAP), while the JIT registration hangs.
        // Succeeded: teardown has released the VM and the work directory and hangs removing the runner.
        JobRecord during = await WaitFor(
            j => j.State == stage && j.WorkDir is not null && stage switch
            {
                JobState.Preparing => true,
                JobState.Succeeded => !Directory.Exists(j.WorkDir),
                _ => j.VmmPid is { } p && ProcessInspector.CommandLineContains(p, j.VmId!),
            },
            JobLifecycle.Name(stage), daemon);
        await daemon.KillAsync(ExitWait, _state);

        if (stage is JobState.Booting or JobState.Running)
        {
            Assert.True(ProcessInspector.CommandLineContains(during.VmmPid!.Value, during.VmId!), "the VM process should have outlived the daemon");
            if (during.TapName is { } tap)
            {
                Assert.True(Directory.Exists($"/sys/class/net/{tap}"), $"TAP {tap} should have outlived the daemon");
                Assert.Contains(tap, await DaemonProcess.GuestNetworkTapsAsync()); // its elements in table inet kindling, too
            }
        }

        return during;
    }

    /// <summary>Starts the daemon again, waits for the job to be cleaned, polls a little more, SIGKILLs it.</summary>
    private async Task<JobRecord> RestartUntilCleanedAsync(string config)
    {
        _fake.ClearFaults();
        DaemonProcess daemon = StartDaemon(config);
        JobRecord after = await WaitFor(j => j.State == JobState.Cleaned, "cleaned", daemon);
        // A few more polls, counted on the forge: the forge job is still queued there and must not get a second row.
        await WaitForPollsAsync(PollsAnswered() + 3, daemon);
        await daemon.KillAsync(ExitWait, _state);
        return after;
    }

    private void AssertNothingLeft(JobRecord during, JobRecord after)
    {
        var store = new JobStore(Db, TimeProvider.System);
        Assert.Single(store.List()); // one forge job, one row: never a second VM for it
        foreach (JobRecord r in (JobRecord[])[during, after])
        {
            if (r.VmmPid is { } pid)
            {
                Assert.False(ProcessInspector.CommandLineContains(pid, r.VmId!), $"VM process {pid} was left running");
            }
        }

        Assert.Empty(DaemonProcess.ProcessesUnder(_state));
        Assert.False(Directory.Exists(during.WorkDir), $"{during.WorkDir} (overlay, FIFOs, API socket) was left behind");
        string jobs = Path.Combine(_state, "jobs");
        Assert.Empty(Directory.Exists(jobs) ? Directory.GetFileSystemEntries(jobs) : []);
        Assert.Equal(_network, during.TapName is not null);
        if (during.TapName is { } tap)
        {
            Assert.False(Directory.Exists($"/sys/class/net/{tap}"), $"TAP {tap} was left behind");
            Assert.DoesNotContain(tap, DaemonProcess.GuestNetworkTapsAsync().GetAwaiter().GetResult()); // no element of its VM in table inet kindling
        }

        // The runner does not jail its VMMs yet; if it starts to, their chroots and cgroups must go too.
        Assert.False(Directory.Exists($"/srv/jailer/kindling-vmm/{during.VmId}"), "a jail directory was left behind");
        foreach (string controller in Directory.Exists("/sys/fs/cgroup") ? Directory.GetDirectories("/sys/fs/cgroup").Append("/sys/fs/cgroup") : [])
        {
            Assert.False(Directory.Exists(Path.Combine(controller, "kindling", during.VmId!)), $"cgroup {controller}/kindling/{during.VmId} was left behind");
        }

        Assert.Empty(_fake.Runners);
    }

    private JsonObject Stub(TimeSpan bootDelay, TimeSpan jobDuration) => new()
    {
        ["Kind"] = "stub", ["Network"] = _network,
        ["StubBootDelay"] = bootDelay.ToString(), ["StubJobDuration"] = jobDuration.ToString(),
    };

    private JsonObject RealVmm(string imagesDirectory) => new()
    {
        ["Kind"] = "vmm", ["Network"] = _network, ["ImagesDirectory"] = imagesDirectory,
        ["VmmPath"] = Path.Combine(AppContext.BaseDirectory, "kindling-vmm"),
    };

    /// <summary>An images directory: the test guest as vmlinux, a small rootfs.ext4, the command line that picks its scenario.</summary>
    private string GuestImages(string name, string bootArgs)
    {
        string dir = Directory.CreateDirectory(Path.Combine(_state, "guest-" + name)).FullName;
        File.Copy(GuestBuilder.ImagePath, Path.Combine(dir, DirectoryImageProvider.Kernel));
        using (var rootfs = new FileStream(Path.Combine(dir, DirectoryImageProvider.Rootfs), FileMode.Create))
        {
            rootfs.SetLength(1 << 20);
        }

        File.WriteAllText(Path.Combine(dir, DirectoryImageProvider.BootArgsFile), bootArgs);
        return dir;
    }

    private string WriteConfig(string name, JsonObject launcher)
    {
        var config = new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning" } },
            ["Kindling"] = new JsonObject
            {
                ["StateDirectory"] = _state,
                ["Host"] = new JsonObject { ["Vcpus"] = 4, ["MemoryMib"] = 4096 },
                ["Pools"] = new JsonArray(new JsonObject { ["Name"] = "p", ["Labels"] = new JsonArray("self-hosted", "kindling"), ["Vcpus"] = 1, ["MemoryMib"] = 256 }),
                ["Tenants"] = new JsonArray(new JsonObject
                {
                    ["Name"] = "acme",
                    ["Forge"] = new JsonObject { ["Kind"] = "github", ["Repositories"] = new JsonArray("acme/app") },
                    ["Credentials"] = new JsonObject { ["Token"] = "ghp_crash" },
                }),
                ["Forge"] = new JsonObject { ["GitHub"] = new JsonObject { ["BaseUrl"] = _fake.BaseUrl.ToString() } },
                ["PollInterval"] = "00:00:00.100",
                ["ReapInterval"] = "00:00:01",
                ["Launcher"] = launcher,
                ["Web"] = new JsonObject { ["Url"] = "http://127.0.0.1:0" },
            },
        };
        string path = Path.Combine(_state, name);
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private DaemonProcess StartDaemon(string config)
    {
        DaemonProcess p = DaemonProcess.Start(config, _output);
        _daemons.Add(p);
        return p;
    }

    private async Task<JobRecord> WaitFor(Func<JobRecord, bool> done, string what, DaemonProcess daemon)
    {
        var until = DateTime.UtcNow + StageWait;
        var store = new JobStore(Db, TimeProvider.System);
        while (DateTime.UtcNow < until)
        {
            Assert.False(daemon.HasExited, $"the daemon exited with {(daemon.HasExited ? daemon.ExitCode : 0)} while waiting for {what}:\n{string.Join('\n', _output)}");
            if (store.List() is [var job, ..] && done(job))
            {
                return job;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        JobRecord? last = store.List() is [var first, ..] ? first : null;
        string transitions = last is null ? "no job" : string.Join("; ", store.Transitions(last.Id).Select(t => $"{t.From}→{t.To}: {t.Reason}"));
        throw new TimeoutException($"no job reached {what} within {StageWait} ({transitions}); daemon output:\n{string.Join('\n', _output)}");
    }

    private int PollsAnswered() =>
        _fake.Requests.Count(r => r.Path.EndsWith("/actions/runs", StringComparison.Ordinal) && r.Status < 400); // 200, or 304 to an ETag

    private async Task WaitForPollsAsync(int count, DaemonProcess daemon)
    {
        for (var clock = Stopwatch.StartNew(); PollsAnswered() < count; await Task.Delay(50, TestContext.Current.CancellationToken))
        {
            Assert.False(daemon.HasExited, $"the daemon exited while polling:\n{string.Join('\n', _output)}");
            Assert.True(clock.Elapsed < StageWait, $"the daemon did not poll the forge {count} times within {StageWait}; daemon output:\n{string.Join('\n', _output)}");
        }
    }
}
