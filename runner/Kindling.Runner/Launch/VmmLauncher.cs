using System.Diagnostics;
using System.Text.Json.Serialization.Metadata;
using Kindling.Runner.Configuration;
using Kindling.Vmm.Contract;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Launch;

/// <summary>
/// Starts <c>kindling-vmm</c> for real: writes vm.json (Firecracker config-file format, no secrets) for the
/// record, spawns <c>kindling-vmm --api-sock SOCK --id VMID</c>, replays the same sections over the API
/// (PUT /boot-source, /machine-config, /drives/ID, /network-interfaces/ID, /mmds/config, /serial, /logger,
/// /metrics), PUTs the job tree to /mmds and only then <c>InstanceStart</c> — so the guest never boots without
/// its metadata. The VMM's stdout (the guest's serial console) goes to the serial FIFO and its stderr to the work
/// directory's vmm.out, both opened by the VMM process itself (see <see cref="DetachedProcess"/>).
/// </summary>
public sealed partial class VmmLauncher : IVmLauncher
{
    public static readonly TimeSpan SocketWait = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The MMDS data store limit every VMM is started with (<c>--mmds-size-limit</c>). Firecracker's default, 51200
    /// bytes, is sized for instance metadata; the job document carries the job's step scripts (a host-driven job one
    /// step at a time), and a generated script of a few thousand lines is ordinary in CI. 1 MiB bounds what a guest
    /// can make the VMM hold while leaving every real job room.
    /// </summary>
    public const int MmdsSizeLimit = 1 << 20;

    /// <summary>How long <c>kindling-vmm jail --destroy</c> may take.</summary>
    private static readonly TimeSpan DestroyWait = TimeSpan.FromSeconds(30);

    private readonly VmmProgram _program;
    private readonly JailOptions? _jail;

    /// <param name="jail">Jail each VMM with these settings; null (or not running as root) starts them un-jailed.</param>
    public VmmLauncher(string vmmPath, JailOptions? jail = null, ILogger<VmmLauncher>? log = null)
    {
        _program = VmmProgram.For(vmmPath);
        _jail = jail is { Enabled: true } ? jail : null;
        if (_jail is not null && !Environment.IsPrivilegedProcess)
        {
            LogUnjailed(log ?? (ILogger)NullLogger.Instance, "the runner is not root");
            _jail = null;
        }
    }

    public bool PatchesMmds => true;

    /// <summary>kindling-vmm's own arguments, the same jailed (after <c>jail ... --</c>) or not.</summary>
    private static string[] VmmArguments(string apiSocket, string vmId) =>
        ["--api-sock", apiSocket, "--id", vmId, "--mmds-size-limit", Num(MmdsSizeLimit)];

    /// <summary>Whether VMMs start inside a jail.</summary>
    public bool Jailed => _jail is not null;

    /// <summary>The configured kindling-vmm (its executable or its dll, see <see cref="VmmProgram"/>), else the one next to the kindling executable, else from PATH.</summary>
    public static string Locate(string configured)
    {
        if (!string.IsNullOrEmpty(configured))
        {
            return configured;
        }

        string sibling = Path.Combine(AppContext.BaseDirectory, "kindling-vmm");
        return File.Exists(sibling) ? sibling : "kindling-vmm";
    }

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        JobWorkspace ws = request.Workspace;
        string temp = ws.VmConfigPath + ".tmp";
        await File.WriteAllTextAsync(temp, VmConfigBuilder.ToJson(request.VmConfig), ct);
        File.Move(temp, ws.VmConfigPath, overwrite: true);
        File.Delete(ws.ApiSocketPath);

        // Guest serial output is the VMM's stdout when it starts without a config file (PUT /serial does not move
        // it), so stdout is the serial FIFO; stderr (its own log and one-line failure reason) goes to vmm.out. The
        // VMM writes both itself, not through pipes to us: it and its output outlive a runner crash.
        (IReadOnlyList<string> argv, string socket, VmConfig apiConfig) = _jail is { } jail
            ? JailedCommand(jail, request)
            : (VmmArguments(ws.ApiSocketPath, request.VmId), ws.ApiSocketPath, request.VmConfig);
        return await StartAsync(argv, socket, ws, onSpawned, async api =>
        {
            await ConfigureAsync(api, apiConfig, ct);
            await api.PutAsync("mmds", request.Mmds.DeepClone(), ct);
            await api.PutAsync("actions", new InstanceActionInfo { ActionType = InstanceActionInfo.InstanceStart }, Json.InstanceActionInfo, ct);
        }, ct);
    }

    /// <summary>
    /// Spawns kindling-vmm with <paramref name="argv"/> (stdout: the serial FIFO, stderr: vmm.out), reports its pid,
    /// waits for its API socket and runs <paramref name="configure"/> over it (a boot or a restore); on any failure
    /// the VMM is killed, so nothing is left running.
    /// </summary>
    private async Task<IVmHandle> StartAsync(IReadOnlyList<string> argv, string socket, JobWorkspace ws, Action<int> onSpawned, Func<VmmApiClient, Task> configure, CancellationToken ct)
    {
        Process process;
        try
        {
            process = DetachedProcess.Start(_program.FileName, _program.Arguments(argv), ws.Directory, ws.SerialFifoPath, ws.VmmOutputPath);
        }
        catch (FileNotFoundException e)
        {
            throw new VmLaunchException($"cannot start kindling-vmm: {e.Message}; build it (dotnet build vmm/Kindling.Vmm.Cli) or set Kindling:Launcher:VmmPath", e);
        }

#pragma warning disable CA2000 // disposed in the catch below on failure; on success the caller owns it
        var handle = new ProcessVmHandle(process);
#pragma warning restore CA2000
        try
        {
            onSpawned(handle.Pid); // inside: a callback that throws must not leave the VMM running
            await WaitForSocketAsync(socket, ws.VmmOutputPath, handle, ct);
            using (var api = new VmmApiClient(socket))
            {
                await configure(api);
            }

            return new MmdsVmHandle(handle, async (patch, token) =>
            {
                using var running = new VmmApiClient(socket);
                await running.PatchAsync("mmds", patch, token);
            });
        }
        catch
        {
            await handle.DisposeAsync();
            throw;
        }
    }

    /// <summary>Destroys the VM's jail (chroot, cgroup) when there is one: <c>kindling-vmm jail --destroy</c>.</summary>
    public async Task ReleaseAsync(string vmId, CancellationToken ct)
    {
        if (_jail is { } jail && JailHomes(jail).Any(home => Directory.Exists(Path.Combine(home, vmId))))
        {
            await JailCommandAsync(["--destroy", "--id", vmId], jail, $"destroying the jail of {vmId}", ct);
        }
    }

    /// <summary>
    /// <c>kindling-vmm jail --reap</c> when a jail exists that belongs to no live VM (so an idle host spawns
    /// nothing): it destroys the jails whose VMM is dead and leaves any still starting or running alone.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReapOrphansAsync(IReadOnlySet<string> liveVmIds, CancellationToken ct)
    {
        if (_jail is not { } jail || !JailHomes(jail).Where(Directory.Exists).SelectMany(Directory.EnumerateDirectories).Any(d => !liveVmIds.Contains(Path.GetFileName(d))))
        {
            return [];
        }

        string output = await JailCommandAsync(["--reap"], jail, "reaping orphaned jails", ct);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Runs <c>kindling-vmm jail ARGS --chroot-base --cgroup-root</c> and returns its output; throws naming <paramref name="what"/> when it fails.</summary>
    private async Task<string> JailCommandAsync(string[] args, JailOptions jail, string what, CancellationToken ct)
    {
        ProcessResult p;
        try
        {
            p = await ProcessRunner.RunAsync(
                DetachedProcess.Resolve(_program.FileName) ?? _program.FileName,
                _program.Arguments(["jail", .. args, "--chroot-base", jail.ChrootBase, "--cgroup-root", jail.CgroupRoot]),
                new ProcessOptions { Timeout = DestroyWait },
                ct);
        }
        catch (ProcessStartException e)
        {
            throw new VmLaunchException($"kindling-vmm jail {args[0]} did not start: {e.Reason}", e);
        }
        catch (ProcessTimeoutException e)
        {
            throw new VmLaunchException($"{what} did not finish within {DestroyWait.TotalSeconds:F0} s", e);
        }

        if (p.ExitCode != 0)
        {
            throw new VmLaunchException($"{what} failed (exit {p.ExitCode}): {p.StandardOutput.Trim()} {p.StandardError.Trim()}");
        }

        return p.StandardOutput;
    }

    /// <summary>
    /// The folders whose subfolders, one per VM id, are jails: the chroots and the cgroups (cgroup v1: the cpu
    /// controller's; v2: the unified tree).
    /// </summary>
    private static string[] JailHomes(JailOptions jail) =>
        [Path.Combine(jail.ChrootBase, "kindling-vmm"), Path.Combine(jail.CgroupRoot, "cpu", "kindling"), Path.Combine(jail.CgroupRoot, "kindling")];

    private static string JailDirectory(JailOptions jail, string vmId) => Path.Combine(jail.ChrootBase, "kindling-vmm", vmId);

    /// <summary>
    /// <c>kindling-vmm jail ... -- --api-sock /run/api.sock --id VMID</c>, and the VM's config with the paths the
    /// VMM sees inside the jail: each file (kernel, initrd, drives, the serial FIFO, the log and metrics files) is
    /// hard-linked (or bound) into the chroot; writable ones are handed to the jail's uid.
    /// </summary>
    internal static (IReadOnlyList<string> Argv, string Socket, VmConfig Config) JailedCommand(JailOptions jail, VmLaunchRequest request)
    {
        List<string> argv = ["jail", "--id", request.VmId, "--uid", Num(jail.Uid), "--gid", Num(jail.Gid),
            "--chroot-base", jail.ChrootBase, "--cgroup-root", jail.CgroupRoot];
        string? Place(string? host, string jailPath, bool writable)
        {
            if (host is null)
            {
                return null;
            }

            if (!File.Exists(host))
            {
                File.WriteAllBytes(host, []); // a log or metrics file the VMM appends to: it must exist to be linked
            }

            argv.AddRange(["--file", $"{host}:{jailPath}{(writable ? ":rw" : "")}"]);
            return jailPath;
        }

        VmConfig config = request.VmConfig;
        config = config with
        {
            BootSource = config.BootSource is { } boot
                ? boot with { KernelImagePath = Place(boot.KernelImagePath, "/vmlinux", writable: false)!, InitrdPath = Place(boot.InitrdPath, "/initrd", writable: false) }
                : null,
            Drives = [.. config.Drives.Select(d => d with { PathOnHost = Place(d.PathOnHost, $"/drives/{d.DriveId}", writable: !d.IsReadOnly) })],
            Serial = config.Serial is { } serial ? serial with { SerialOutPath = Place(serial.SerialOutPath, "/run/serial.fifo", writable: true) } : null,
            Logger = config.Logger is { } logger ? logger with { LogPath = Place(logger.LogPath, "/run/vmm.log", writable: true) } : null,
            Metrics = config.Metrics is { } metrics ? metrics with { MetricsPath = Place(metrics.MetricsPath, "/run/vmm-metrics.json", writable: true)! } : null,
        };

        int vcpus = config.MachineConfig?.VcpuCount ?? 1;
        int memoryMib = config.MachineConfig?.MemSizeMib ?? 128;
        const long CpuPeriod = 100_000;
        // CPU: the vCPUs plus one for the VMM's own threads (event loop, API); memory: guest RAM plus overhead.
        argv.AddRange(["--cpu-period-us", Num(CpuPeriod), "--cpu-quota-us", Num((vcpus + 1) * CpuPeriod),
            "--memory-bytes", Num(((long)memoryMib + jail.MemoryOverheadMib) << 20), "--pids-max", Num(jail.PidsMax),
            "--", .. VmmArguments("/run/api.sock", request.VmId)]);
        string socket = Path.Combine(JailDirectory(jail, request.VmId), "root", "run", "api.sock");
        return (argv, socket, config);
    }

    private static string Num(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "VMMs start without a jail: {Why} (Kindling:Launcher:Jail:Enabled=false silences this)")]
    private static partial void LogUnjailed(ILogger log, string why);

    private static VmmContractJsonContext Json => VmmContractJsonContext.Default;

    /// <summary>Every section of <paramref name="config"/> over the API, each as the contract's record.</summary>
    private static async Task ConfigureAsync(VmmApiClient api, VmConfig config, CancellationToken ct)
    {
        Task Put<T>(string path, T? body, JsonTypeInfo<T> type) where T : class =>
            body is null ? Task.CompletedTask : api.PutAsync(path, body, type, ct);

        await Put("logger", config.Logger, Json.LoggerConfig);
        await Put("metrics", config.Metrics, Json.MetricsConfig);
        await Put("boot-source", config.BootSource, Json.BootSourceConfig);
        await Put("machine-config", config.MachineConfig, Json.MachineConfig);
        await Put("serial", config.Serial, Json.SerialConfig);
        foreach (DriveConfig drive in config.Drives)
        {
            await Put($"drives/{drive.DriveId}", drive, Json.DriveConfig);
        }

        foreach (NetworkInterfaceConfig iface in config.NetworkInterfaces)
        {
            await Put($"network-interfaces/{iface.IfaceId}", iface, Json.NetworkInterfaceConfig);
        }

        await Put("vsock", config.Vsock, Json.VsockConfig);
        await Put("entropy", config.Entropy, Json.EntropyConfig);
        await Put("mmds/config", config.MmdsConfig, Json.MmdsConfig);
    }

    private static async Task WaitForSocketAsync(string path, string outputPath, IVmHandle handle, CancellationToken ct)
    {
        DateTime until = DateTime.UtcNow + SocketWait;
        // The file appears at bind(2), before listen(2): a connect in between is refused. Wait for one that is
        // accepted (the first API request failed with "Connection refused" under load without this).
        while (!File.Exists(path) || !await AcceptsAsync(path, ct))
        {
            if (handle.Exited.IsCompleted)
            {
                int code = await handle.Exited;
                throw new VmLaunchException(DetachedProcess.LastLine(outputPath) is { } why
                    ? $"kindling-vmm exited with code {code} before opening its API socket: {why}"
                    : $"kindling-vmm exited with code {code} before opening its API socket, with no output");
            }

            if (DateTime.UtcNow > until)
            {
                throw new VmLaunchException($"kindling-vmm did not create its API socket {path} within {SocketWait.TotalSeconds} s");
            }

            await Task.Delay(10, ct);
        }
    }

    /// <summary>True when a connection to the Unix socket <paramref name="path"/> is accepted (it is closed at once).</summary>
    internal static async Task<bool> AcceptsAsync(string path, CancellationToken ct)
    {
        try
        {
            using System.Net.Sockets.Socket probe = await VmmApiClient.ConnectAsync(path, ct);
            return true;
        }
        catch (System.Net.Sockets.SocketException e) when (e.SocketErrorCode is System.Net.Sockets.SocketError.ConnectionRefused or System.Net.Sockets.SocketError.AddressNotAvailable)
        {
            return false;
        }
    }
}
