using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Kindling.Runner.Jobs;
using Kindling.Runner.Tests.Jobs;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Npgsql;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// Three <c>kindling daemon</c> processes on one private PostgreSQL, polling one FakeGitHub, with the stub launcher
/// (its VMs are real placeholder processes, with TAPs and guest-network elements where this runs as root). One is
/// SIGKILLed while it runs jobs: the others take them over after its lease, every job ends once, and nothing of it
/// is left (its forge runners at the takeover; its VMs, TAPs and rules on its machine when its daemon starts again).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FleetProcessTests(PostgresFixture pg) : IAsyncLifetime
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(3);

    /// <summary>How long the fake holds h3's JIT registration of its third job: past every stage's wait, so it is still preparing when h3 is killed.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromMinutes(10);

    /// <summary>Longest any one stage may take (generous: CI is loaded and three daemons share its cores).</summary>
    private static readonly TimeSpan StageWait = TimeSpan.FromSeconds(120);

    /// <summary>How long a SIGKILLed daemon may take to be reaped with its output pipes at end of file.</summary>
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(20);

    private readonly string _root = Directory.CreateTempSubdirectory("kindling-fleet-").FullName;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly List<DaemonProcess> _daemons = [];
    private readonly bool _network = HostFacts.RootUnavailableReason is null;
    private readonly string _envName = "KINDLING_TEST_DB_" + Guid.NewGuid().ToString("N")[..8].ToUpperInvariant();
    private bool _tableBefore;
    private FakeGitHub _fake = null!;
    private JobStore _store = null!;
    private string _connection = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _fake = await FakeGitHub.StartAsync();
        _tableBefore = _network && await DaemonProcess.NftAsync("list table inet kindling") == 0;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (DaemonProcess d in _daemons)
        {
            d.Dispose();
        }

        DaemonProcess.KillProcessesUnder(_root); // a failed test must not leave its VMs running
        if (_network && !_tableBefore && (await DaemonProcess.GuestNetworkTapsAsync()).Count == 0)
        {
            await DaemonProcess.NftAsync("delete table inet kindling");
        }

        await _fake.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task KillDaemonMidRun_OthersTakeOverWithinLease_EachJobEndsOnceNothingOfItLeft()
    {
        _connection = pg.CreateDatabase();
        _store = new JobStore(new PostgresDialect(_connection), TimeProvider.System);
        using (var db = new NpgsqlConnection(_connection))
        {
            // Job ids (and so VM ids and TAP names) unique on this machine: other tests and daemons use small ids.
            db.Open();
            using var seed = new NpgsqlCommand($"SELECT setval('jobs_id_seq', {Random.Shared.NextInt64(1_000_000, 9_000_000_000)})", db);
            seed.ExecuteNonQuery();
        }

        // h3 alone first, so that it holds two running jobs (its guests work for minutes) and one preparing (its JIT
        // registration hangs): everything it has when it is killed.
        // Its forge requests may take as long as the hang: a shorter timeout gives up on the held registration and
        // retries it, and the "preparing" job boots before the kill when the stages before it are slow (a loaded CI).
        string h3Config = Config("h3", vcpus: 3, jobDuration: TimeSpan.FromMinutes(10), k => k["Forge"]!["GitHub"]!["RequestTimeout"] = Hang.ToString());
        DaemonProcess h3 = Start(h3Config);
        FakeJob[] running = [.. Enumerable.Range(0, 2).Select(i => _fake.QueueJob("acme/app", $"running-{i}", "self-hosted", "kindling"))];
        await WaitFor(() => running.All(f => Job(f) is { State: JobState.Running, Host: "h3" }), "h3 running two jobs", h3);
        var hang = new FakeForgeFault { Kind = FakeForgeFaultKind.Delay, Delay = Hang, PathContains = "generate-jitconfig" }; // once
        _fake.AddFault(hang);
        FakeJob preparing = _fake.QueueJob("acme/app", "preparing-0", "self-hosted", "kindling");
        await WaitFor(() => hang.Hit.IsCompleted && Job(preparing) is { State: JobState.Preparing, Host: "h3", WorkDir: not null }, "h3 preparing a third", h3);

        // h1 and h2 join and run jobs of their own while h3 is full; they have heartbeated for a lease before the kill.
        DaemonProcess[] survivors = [Start(Config("h1", 2, TimeSpan.FromMilliseconds(100))), Start(Config("h2", 2, TimeSpan.FromMilliseconds(100)))];
        FakeJob[] before = [.. Enumerable.Range(0, 3).Select(i => _fake.QueueJob("acme/app", $"before-{i}", "self-hosted", "kindling"))];
        await WaitFor(() => before.All(f => Job(f) is { State: JobState.Cleaned }) && new[] { "h1", "h2" }.All(h =>
            _store.GetHost(h) is { State: HostStates.Live } r && r.HeartbeatAt - r.StartedAt > Lease), "h1 and h2 running jobs for a lease", [.. survivors, h3]);

        JobRecord[] held = [.. running.Append(preparing).Select(f => Job(f)!)];
        List<int> vmsOfH3 = DaemonProcess.ProcessesUnder(StateOf("h3"));
        Assert.True(vmsOfH3.Count >= 2, $"h3's two running VMs should be processes under its state directory; found {string.Join(", ", vmsOfH3.Select(DaemonProcess.Cmdline))}; " +
            string.Join("; ", held.Select(j => $"{j.Name} {j.State} pid {j.VmmPid}")));
        FakeJob[] later = [.. Enumerable.Range(0, 3).Select(i => _fake.QueueJob("acme/app", $"later-{i}", "self-hosted", "kindling"))];

        await h3.KillAsync(ExitWait, StateOf("h3"));
        DateTimeOffset killedAt = DateTimeOffset.UtcNow;
        DateTimeOffset lastHeartbeat = _store.GetHost("h3")!.HeartbeatAt;
        FakeJob[] all = [.. running, preparing, .. before, .. later];
        await WaitFor(() => _store.GetHost("h3")!.State == HostStates.Gone && all.All(f => Job(f) is { State: JobState.Cleaned }),
            "h3's jobs taken over and every job cleaned", survivors);

        // Taken over once the lease ran out after h3's last heartbeat, and soon after: each survivor looks every third of a lease.
        JobTransition[] takeovers = [.. held.SelectMany(j => _store.Transitions(j.Id)).Where(t => t.Reason.Contains("host h3 stopped heartbeating", StringComparison.Ordinal))];
        Assert.True(takeovers.Length == 3, string.Join("\n", held.SelectMany(j => _store.Transitions(j.Id)).Select(t => $"{t.JobId} {t.At:HH:mm:ss.fff} {t.From}->{t.To} {t.Reason}")));
        DateTimeOffset first = takeovers.Min(t => t.At);
        DateTimeOffset last = takeovers.Max(t => t.At);
        Assert.True(first - lastHeartbeat >= Lease, $"taken over {(first - lastHeartbeat).TotalSeconds:0.00} s after h3's last heartbeat, before its lease of {Lease.TotalSeconds} s ran out");
        TimeSpan took = last - killedAt;
        Assert.True(took <= 4 * Lease, $"the takeover ended {took.TotalSeconds:0.00} s after the kill; the lease is {Lease.TotalSeconds} s");
        TestContext.Current.TestOutputHelper?.WriteLine($"kill -9 → takeover done in {took.TotalSeconds:0.00} s (first job {(first - killedAt).TotalSeconds:0.00} s; lease {Lease.TotalSeconds} s)");

        foreach (FakeJob f in running)
        {
            JobRecord j = Job(f)!;
            IReadOnlyList<JobTransition> ts = _store.Transitions(j.Id);
            JobTransition failed = Assert.Single(ts, t => t.To == JobState.Failed);
            Assert.Contains("host h3 stopped heartbeating", failed.Reason, StringComparison.Ordinal);
            Assert.Contains("while the job ran", failed.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain(ts, t => t.To == JobState.Succeeded || (t.To == JobState.Queued && t.From is not null));
            Assert.Equal(1, j.Attempt);
        }

        JobRecord requeued = Job(preparing)!;
        IReadOnlyList<JobTransition> history = _store.Transitions(requeued.Id);
        JobTransition back = Assert.Single(history, t => t.From == JobState.Preparing && t.To == JobState.Queued);
        Assert.Contains("host h3 stopped heartbeating", back.Reason, StringComparison.Ordinal);
        Assert.Single(history, t => t.To == JobState.Succeeded); // run again, once, by a survivor
        Assert.Equal(2, requeued.Attempt);
        Assert.Contains(requeued.Host, (string[])["h1", "h2"]);

        foreach (FakeJob f in before.Concat(later))
        {
            JobRecord j = Job(f)!;
            Assert.Single(_store.Transitions(j.Id), t => t.To == JobState.Succeeded);
            Assert.Contains(j.Host, (string[])["h1", "h2"]);
        }

        Assert.Equal(all.Length, _store.List(limit: 100).Count); // one row per forge job: never a second VM for one
        Assert.Empty(_fake.Runners); // h3's JIT runners removed by the takeover; the survivors' by their teardown

        // A VM outlives its crashed daemon (as a real VMM does): h3's still run on its machine until its daemon is back.
        Assert.Contains(vmsOfH3, pid => DaemonProcess.ProcessesUnder(StateOf("h3")).Contains(pid));

        // h3's daemon starts again (as its supervisor restarts it): it rejoins, and its leftovers go.
        DaemonProcess again = Start(Config("h3", vcpus: 3, jobDuration: TimeSpan.FromMilliseconds(100)));
        // The nft elements (a process per look) only once the cheap checks pass; awaited, never blocking a pool thread.
        await WaitFor(async () => _store.GetHost("h3") is { State: HostStates.Live } && DaemonProcess.ProcessesUnder(StateOf("h3")).Count == 0
            && !Directory.EnumerateDirectories(StateOf("h3"), "*", SearchOption.AllDirectories).Any(d => Path.GetFileName(Path.GetDirectoryName(d)) == "jobs")
            && !held.Any(j => j.TapName is { } t && Directory.Exists($"/sys/class/net/{t}"))
            && !(_network && (await DaemonProcess.GuestNetworkTapsAsync()).Intersect(held.Select(j => j.TapName)).Any()),
            "h3 back with its leftovers gone (its TAPs and their rules are its own reaper's: another runner on the machine leaves them)", [again]);
        foreach (JobRecord j in held)
        {
            Assert.False(j.VmmPid is { } pid && Kindling.Runner.Launch.ProcessInspector.CommandLineContains(pid, j.VmId!), $"VM process {j.VmmPid} of job {j.Id} was left running");
        }

        IReadOnlyList<string> elements = _network ? await DaemonProcess.GuestNetworkTapsAsync() : [];
        foreach (JobRecord j in _store.List(limit: 100))
        {
            string tap = Kindling.Runner.Launch.GuestNetwork.TapNameFor(j.Id);
            Assert.False(Directory.Exists($"/sys/class/net/{tap}"), $"TAP {tap} of job {j.Id} ({j.Name}) was left behind");
            Assert.DoesNotContain(tap, elements); // no element of its VM in table inet kindling
        }

        Assert.All(held, j => Assert.Equal(_network, j.TapName is not null)); // the checks above looked at real TAPs where there were
        Assert.Empty(_fake.Runners);
    }

    /// <summary>
    /// One real microVM in the fleet: h1 runs its pool's jobs in kindling-vmm with the minimal image (a Linux guest),
    /// h2 and h3 with the stub. A job given to h1 for the pool only it serves boots there, once.
    /// </summary>
    [HardwareKvmFact]
    public async Task Run_OneDaemonOnRealVmm_ItsPoolsJobBootsTheMinimalImageOnceThere()
    {
        string vmm = Path.Combine(AppContext.BaseDirectory, "kindling-vmm");
        Assert.SkipUnless(File.Exists(vmm), $"{vmm} is not built");
        await RunOneJobOnH1Async(h1 => h1["Launcher"] = new JsonObject
        {
            ["Kind"] = "vmm", ["Network"] = true, ["VmmPath"] = vmm, ["GuestKernel"] = "auto",
        }, "in-the-microvm $(uname -s)", "in-the-microvm Linux");
    }

    /// <summary>The same fleet on the stub everywhere: a host admits only jobs its pools serve, so h1's job waits for h1.</summary>
    [Fact]
    public Task Run_HostsWithDifferentPools_JobRunsOnceOnTheHostWhosePoolServesIt() =>
        RunOneJobOnH1Async(_ => { }, "on h1's pool", "on h1's pool");

    /// <summary>
    /// Starts h1 (its own pool, labelled microvm; <paramref name="launcher"/> sets how it runs jobs) with h2 and h3 on
    /// the stub, gives h1 one job for that pool over <c>POST /api/jobs</c>, and checks it ran once, on h1, printing
    /// <paramref name="expected"/>, while h2 and h3 never took it.
    /// </summary>
    private async Task RunOneJobOnH1Async(Action<JsonObject> launcher, string echo, string expected)
    {
        _connection = pg.CreateDatabase();
        _store = new JobStore(new PostgresDialect(_connection), TimeProvider.System);
        int port = FreePort();
        const string Admin = "fleet-admin-token-0123456789abcdef";
        // h1 is the smallest: placement would leave the job to a roomier host, were it one whose pools served it.
        DaemonProcess h1 = Start(Config("h1", 1, TimeSpan.Zero, k =>
        {
            k["Pools"] = new JsonArray(new JsonObject { ["Name"] = "vm", ["Labels"] = new JsonArray("microvm"), ["Vcpus"] = 1, ["MemoryMib"] = 512 });
            k["Images"] = new JsonObject { ["Flavour"] = "minimal" };
            k["Web"] = new JsonObject { ["Url"] = $"http://127.0.0.1:{port}", ["AdminToken"] = Admin };
            launcher(k);
        }));
        DaemonProcess[] all = [h1, Start(Config("h2", 3, TimeSpan.Zero)), Start(Config("h3", 3, TimeSpan.Zero))];
        await WaitFor(() => _store.Hosts().Count(h => h.State == HostStates.Live) == 3, "three live hosts", all);

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = StageWait };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Admin);
        for (var clock = Stopwatch.StartNew(); !await AnswersAsync(http); await Task.Delay(100, Ct))
        {
            Assert.False(h1.HasExited || clock.Elapsed > StageWait, $"h1's web API on port {port} did not answer within {StageWait}:\n{string.Join('\n', _output)}");
        }

        string body = new JsonObject
        {
            ["tenant"] = "acme", ["name"] = "in-vm", ["runs_on"] = new JsonArray("microvm"),
            ["steps"] = new JsonArray(new JsonObject { ["run"] = $"echo \"{echo}\"" }),
        }.ToJsonString();
        using HttpResponseMessage r = await http.PostAsync("api/jobs", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
        Assert.True(r.StatusCode == System.Net.HttpStatusCode.Created, await r.Content.ReadAsStringAsync(Ct));

        await WaitFor(() => _store.List(limit: 10) is [{ State: JobState.Cleaned }], "the job run and cleaned", all);
        JobRecord job = Assert.Single(_store.List(limit: 10));
        IReadOnlyList<JobTransition> ts = _store.Transitions(job.Id);
        string history = string.Join(" | ", ts.Select(t => $"{t.From}->{t.To} {t.Reason}"));
        TestContext.Current.TestOutputHelper?.WriteLine(history);
        Assert.True(ts.Count(t => t.To == JobState.Succeeded) == 1, history);
        Assert.Equal("h1", job.Host);
        Assert.Single(ts, t => t.To == JobState.Preparing);
        Assert.Contains(expected, await File.ReadAllTextAsync(job.LogPath!, Ct), StringComparison.Ordinal);
    }

    private static async Task<bool> AnswersAsync(HttpClient http)
    {
        try
        {
            using HttpResponseMessage r = await http.GetAsync("api/hosts", Ct);
            return r.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false; // not listening yet
        }
    }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        l.Start();
        return ((System.Net.IPEndPoint)l.LocalEndpoint).Port;
    }

    private JobRecord? Job(FakeJob f) => _store.List(limit: 100).FirstOrDefault(j => j.Name == f.Name);

    private string StateOf(string host) => Path.Combine(_root, host);

    private DaemonProcess Start(string config)
    {
        DaemonProcess d = DaemonProcess.Start(config, _output, new Dictionary<string, string> { [_envName] = _connection });
        _daemons.Add(d);
        return d;
    }

    /// <summary>A daemon's configuration: its own state directory and host name; the shared database, forge and tenant.</summary>
    private string Config(string host, int vcpus, TimeSpan jobDuration, Action<JsonObject>? change = null)
    {
        string state = Directory.CreateDirectory(StateOf(host)).FullName;
        RunnerHarness.InstallActionsRunner(Path.Combine(state, "images"), RunnerHarness.SucceedingActionsRunner);
        var config = new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning" } },
            ["Kindling"] = new JsonObject
            {
                ["StateDirectory"] = state,
                ["HostName"] = host,
                ["Store"] = new JsonObject { ["Kind"] = "postgres", ["ConnectionStringEnv"] = _envName, ["HostLeaseTimeout"] = Lease.ToString() },
                ["Host"] = new JsonObject { ["Vcpus"] = vcpus, ["MemoryMib"] = 4096 },
                ["Pools"] = new JsonArray(new JsonObject { ["Name"] = "p", ["Labels"] = new JsonArray("self-hosted", "kindling"), ["Vcpus"] = 1, ["MemoryMib"] = 256 }),
                ["Tenants"] = new JsonArray(new JsonObject
                {
                    ["Name"] = "acme",
                    ["Forge"] = new JsonObject { ["Kind"] = "github", ["Repositories"] = new JsonArray("acme/app") },
                    ["Credentials"] = new JsonObject { ["Token"] = "ghp_fleet" },
                }),
                ["Forge"] = new JsonObject { ["GitHub"] = new JsonObject { ["BaseUrl"] = _fake.BaseUrl.ToString() } },
                ["PollInterval"] = "00:00:00.100",
                ["ReapInterval"] = "00:00:01",
                ["Launcher"] = new JsonObject { ["Kind"] = "stub", ["Network"] = _network, ["StubJobDuration"] = jobDuration.ToString() },
                ["Web"] = new JsonObject { ["Url"] = "http://127.0.0.1:0" },
            },
        };
        change?.Invoke((JsonObject)config["Kindling"]!);
        string path = Path.Combine(state, $"kindling-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, config.ToJsonString());
        return path;
    }

    private Task WaitFor(Func<bool> done, string what, DaemonProcess daemon) => WaitFor(done, what, [daemon]);

    private Task WaitFor(Func<bool> done, string what, DaemonProcess[] daemons) => WaitFor(() => Task.FromResult(done()), what, daemons);

    private async Task WaitFor(Func<Task<bool>> done, string what, DaemonProcess[] daemons)
    {
        for (var clock = Stopwatch.StartNew(); !await done(); await Task.Delay(50, Ct))
        {
            foreach (DaemonProcess d in daemons)
            {
                Assert.False(d.HasExited, $"a daemon exited with {(d.HasExited ? d.ExitCode : 0)} while waiting for {what}:\n{string.Join('\n', _output)}");
            }

            if (clock.Elapsed > StageWait)
            {
                string jobs = string.Join("\n", _store.List(limit: 100).Select(j =>
                    $"{j.Name} ({j.Id}) {j.State} on {j.Host}: " + string.Join(" | ", _store.Transitions(j.Id).Select(t => $"{t.At:HH:mm:ss.fff} {t.From}->{t.To} {t.Reason}"))));
                string hosts = string.Join("; ", _store.Hosts().Select(h => $"{h.Name} {h.State} hb {h.HeartbeatAt:HH:mm:ss.fff} {h.Detail}"));
                throw new TimeoutException($"no {what} within {StageWait}\nhosts: {hosts}\njobs:\n{jobs}\ndaemon output:\n{string.Join('\n', _output)}");
            }
        }
    }
}
