using Kindling.Images.Guest;
using System.Text.Json.Nodes;
using Kindling.Runner.Composition;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Tests;

/// <summary>The runner's real services with the stub launcher, a temp state directory and the given config.</summary>
internal sealed class RunnerHarness : IAsyncDisposable
{
    private readonly ServiceProvider _sp;

    public RunnerHarness(Dictionary<string, string?> config, params IForge[] forges)
        : this(config, _ => { }, forges)
    {
    }

    /// <summary>With <paramref name="extra"/> registered before the runner's services (they win).</summary>
    public RunnerHarness(Dictionary<string, string?> config, Action<IServiceCollection> extra, params IForge[] forges)
    {
        StateDirectory = Directory.CreateTempSubdirectory("kindling-harness-").FullName;
        var all = new Dictionary<string, string?>
        {
            ["Kindling:StateDirectory"] = StateDirectory,
            ["Kindling:Host:Vcpus"] = "16", ["Kindling:Host:MemoryMib"] = "32768",
            ["Kindling:Pools:0:Name"] = "default", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
            ["Kindling:Pools:0:Vcpus"] = "1", ["Kindling:Pools:0:MemoryMib"] = "256",
            ["Kindling:Launcher:Kind"] = "stub", ["Kindling:Launcher:Network"] = "false",
            ["Kindling:Launcher:StubJobDuration"] = "00:00:00.050",
            ["Kindling:PollInterval"] = "00:00:00.050",
        };
        foreach ((string k, string? v) in config)
        {
            all[k] = v;
        }

        IConfiguration cfg = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        foreach (IForge f in forges)
        {
            services.AddSingleton(f);
        }

        Stub = new StubVmLauncher(TimeSpan.Parse(all["Kindling:Launcher:StubJobDuration"]!, System.Globalization.CultureInfo.InvariantCulture));
        Launcher = new RecordingLauncher(Stub);
        services.AddSingleton<IVmLauncher>(Launcher);
        extra(services);
        services.AddKindlingRunner(cfg);
        _sp = services.BuildServiceProvider();
    }

    public string StateDirectory { get; }
    public RecordingLauncher Launcher { get; }

    /// <summary>The stub under <see cref="Launcher"/> (to make a VM die mid-job).</summary>
    public StubVmLauncher Stub { get; }
    public JobStore Store => _sp.GetRequiredService<JobStore>();
    public JobDispatcher Dispatcher => _sp.GetRequiredService<JobDispatcher>();
    public JobReaper Reaper => _sp.GetRequiredService<JobReaper>();
    public T Get<T>() where T : notnull => _sp.GetRequiredService<T>();

    /// <summary>An actions runner that checks it was given a JIT config, says so and succeeds.</summary>
    public const string SucceedingActionsRunner = "[ \"$1\" = --jitconfig ] && [ -n \"$2\" ] || { echo \"run.sh: no --jitconfig\"; exit 3; }\necho \"actions runner: job done\"\n";

    /// <summary>Puts <c>/opt/actions-runner/run.sh</c> (a shell script) into the stand-in base image the stub boots.</summary>
    public void InstallActionsRunner(string script = SucceedingActionsRunner) => InstallActionsRunner(Path.Combine(StateDirectory, "images"), script);

    /// <summary>Unpacks <see cref="Kindling.Testing.FakeForge.FakeActionsRunner"/> at <c>/opt/actions-runner</c> of the stand-in base image the stub boots.</summary>
    public void InstallFakeActionsRunner() =>
        Kindling.Testing.FakeForge.FakeActionsRunner.WriteTo(Path.Combine(new PlaceholderImageProvider(Path.Combine(StateDirectory, "images")).ImageFiles, "opt", "actions-runner"));

    /// <summary>As <see cref="InstallActionsRunner(string)"/>, for the stand-in images under <paramref name="imagesDirectory"/>.</summary>
    public static void InstallActionsRunner(string imagesDirectory, string script)
    {
        string runner = Path.Combine(new PlaceholderImageProvider(imagesDirectory).ImageFiles, "opt", "actions-runner", "run.sh");
        Directory.CreateDirectory(Path.GetDirectoryName(runner)!);
        WriteScript(runner, "#!/bin/sh\n" + script, executable: true);
    }

    /// <summary>Writes a file (replacing one) with mode 0755, or 0644 when not <paramref name="executable"/>.</summary>
    public static void WriteScript(string path, string text, bool executable)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("file modes are Unix-only");
        }

        File.Delete(path);
        UnixFileMode read = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        using var f = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew, Access = FileAccess.Write,
            UnixCreateMode = executable ? read | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute : read,
        });
        f.Write(System.Text.Encoding.UTF8.GetBytes(text));
    }

    public static Dictionary<string, string?> LocalTenant(int index, string name, int maxVms = 10, double weight = 1, params (string Name, string Value)[] secrets)
    {
        var d = new Dictionary<string, string?>
        {
            [$"Kindling:Tenants:{index}:Name"] = name, [$"Kindling:Tenants:{index}:Forge:Kind"] = "local",
            [$"Kindling:Tenants:{index}:Quota:MaxVms"] = maxVms.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [$"Kindling:Tenants:{index}:Weight"] = weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        foreach ((string n, string v) in secrets)
        {
            d[$"Kindling:Tenants:{index}:Secrets:{n}:Value"] = v;
        }

        return d;
    }

    /// <summary>Combines configuration parts; a later part's value wins.</summary>
    public static Dictionary<string, string?> Merge(params Dictionary<string, string?>[] parts)
    {
        Dictionary<string, string?> all = [];
        foreach ((string k, string? v) in parts.SelectMany(p => p))
        {
            all[k] = v;
        }

        return all;
    }

    /// <summary>Runs the daemon loop until <see cref="IAsyncDisposable.DisposeAsync"/> of the result (which waits for it to stop).</summary>
    public LoopRun StartLoop(CancellationToken ct) => new(Dispatcher, ct);

    internal sealed class LoopRun : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop;
        private readonly Task _loop;

        public LoopRun(JobDispatcher dispatcher, CancellationToken ct)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _loop = dispatcher.RunAsync(_stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _loop;
            }
            catch (OperationCanceledException)
            {
                // the loop ends by cancellation
            }

            _stop.Dispose();
        }
    }

    /// <summary>Poll, admit, run to the end (repeats until nothing is queued or active).</summary>
    public async Task RunAllAsync(CancellationToken ct)
    {
        await Dispatcher.PollAsync(ct);
        for (int i = 0; i < 100; i++)
        {
            Dispatcher.AdmitAndStart(ct);
            await Dispatcher.WaitIdleAsync();
            if (Store.ListByState(JobState.Queued).Count == 0)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _sp.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        // A file may still appear while the directory is removed (seen once under CI load: "Directory not
        // empty"); try again a few times, then say what is left.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(StateDirectory, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 5)
            {
                await Task.Delay(100 * attempt);
            }
            catch (IOException e)
            {
                string left = string.Join(", ", Directory.EnumerateFileSystemEntries(StateDirectory, "*", SearchOption.AllDirectories));
                throw new IOException($"{e.Message}; still there after {attempt} tries: {left}", e);
            }
        }
    }
}

/// <summary>Records each launch request (MMDS included) before delegating.</summary>
internal sealed class RecordingLauncher(IVmLauncher inner) : IVmLauncher
{
    public bool PatchesMmds => inner.PatchesMmds;

    private readonly List<VmLaunchRequest> _requests = [];
    private readonly List<int> _pids = [];

    public IReadOnlyList<VmLaunchRequest> Requests { get { lock (_requests) return [.. _requests]; } }
    public IReadOnlyList<int> Pids { get { lock (_requests) return [.. _pids]; } }
    public int ConcurrentNow;
    public int ConcurrentMax;

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        lock (_requests)
        {
            // Recorded as the per-key tree the job document encodes, so tests read kindling/job, secrets, github.
            _requests.Add(request with { Mmds = JobDocument.Parse(request.Mmds["kindling"]![JobDocument.Key]!.GetValue<string>()) });
        }

        IVmHandle h = await inner.LaunchAsync(request, pid =>
        {
            lock (_requests)
            {
                _pids.Add(pid);
                ConcurrentMax = Math.Max(ConcurrentMax, ++ConcurrentNow);
            }

            onSpawned(pid);
        }, ct);
        _ = h.Exited.ContinueWith(_ => Interlocked.Decrement(ref ConcurrentNow), TaskScheduler.Default);
        return h;
    }

    public bool IsOurProcess(int pid, string vmId) => inner.IsOurProcess(pid, vmId);

    /// <summary>The live VM ids each orphan sweep passed (it removes nothing: the stub makes no jails).</summary>
    public IReadOnlyList<IReadOnlySet<string>> ReapCalls { get { lock (_requests) return [.. _reapCalls]; } }

    private readonly List<IReadOnlySet<string>> _reapCalls = [];

    public Task<IReadOnlyList<string>> ReapOrphansAsync(IReadOnlySet<string> liveVmIds, CancellationToken ct)
    {
        lock (_requests)
        {
            _reapCalls.Add(new HashSet<string>(liveVmIds));
        }

        return inner.ReapOrphansAsync(liveVmIds, ct);
    }
}

internal static class Specs
{
    public static JobSpec Steps(string name, params (string Name, string Run)[] steps) => new()
    {
        Name = name, Steps = [.. steps.Select(s => new StepSpec { Name = s.Name, Run = s.Run })],
        Env = new Dictionary<string, string> { ["GREETING"] = "hello" },
    };

    public static readonly string[] Labels = ["self-hosted", "kindling"];

    public static LocalForge Local(string tenant) => new(tenant);
}
