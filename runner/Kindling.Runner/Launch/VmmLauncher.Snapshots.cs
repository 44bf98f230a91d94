using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// Snapshots over kindling-vmm's API, as Firecracker's: <c>PATCH /vm Paused</c> then <c>PUT /snapshot/create</c>;
/// a restore starts a new VMM (jailed as any other: its jail also holds the state and memory files), puts only the
/// logger and metrics (not boot-specific), <c>PUT /snapshot/load</c> with the memory file as a <c>File</c> backend
/// (mapped copy-on-write: one page cache for all clones), <c>resume_vm: false</c> and the job's TAP as the network
/// override, then <c>PATCH /drives/overlay</c> to the job's overlay, <c>PUT /mmds</c> (the data store is not part of
/// a snapshot) and <c>PATCH /vm Resumed</c>.
/// </summary>
public sealed partial class VmmLauncher : ISnapshotLauncher
{
    private const string JailState = "/snapshot/state";
    private const string JailMemory = "/snapshot/memory";

    /// <summary>Where a jailed VMM writes a snapshot: its /run, which belongs to the jail's user.</summary>
    private const string JailSnapshotOut = "/run/snapshot.";

    public async Task SnapshotAsync(VmLaunchRequest golden, IVmHandle vm, string statePath, string memoryPath, CancellationToken ct)
    {
        string socket = _jail is { } jail ? Path.Combine(JailDirectory(jail, golden.VmId), "root", "run", "api.sock") : golden.Workspace.ApiSocketPath;
        using var api = new VmmApiClient(socket);
        await PatchAsync(api, "vm", new VmStateUpdate { State = VmStateUpdate.Paused }, Json.VmStateUpdate, ct);
        if (_jail is { } j)
        {
            // The jailed VMM writes inside its chroot, in /run (its own, where it made its API socket); the files
            // are moved out before the jail is destroyed.
            string root = Path.Combine(JailDirectory(j, golden.VmId), "root");
            await api.PutAsync("snapshot/create", new SnapshotCreateParams { SnapshotType = SnapshotCreateParams.Full, SnapshotPath = JailSnapshotOut + "state", MemFilePath = JailSnapshotOut + "memory" }, Json.SnapshotCreateParams, ct);
            File.Move(root + JailSnapshotOut + "state", statePath);
            File.Move(root + JailSnapshotOut + "memory", memoryPath);
        }
        else
        {
            await api.PutAsync("snapshot/create", new SnapshotCreateParams { SnapshotType = SnapshotCreateParams.Full, SnapshotPath = statePath, MemFilePath = memoryPath }, Json.SnapshotCreateParams, ct);
        }
    }

    public Task<IVmHandle> RestoreAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct) =>
        RestoreAsync(request, snapshot, onSpawned, resume: true, ct);

    public Task<IVmHandle> RestorePausedAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct) =>
        RestoreAsync(request, snapshot, onSpawned, resume: false, ct);

    /// <summary>A warm slot's VM gets its job: <c>PUT /mmds</c>, <c>PATCH /vm Resumed</c>, over the socket where the VM's files are now.</summary>
    public async Task<IVmHandle> ResumeAsync(VmLaunchRequest request, IVmHandle vm, CancellationToken ct)
    {
        string socket = _jail is { } jail ? Path.Combine(JailDirectory(jail, request.VmId), "root", "run", "api.sock") : request.Workspace.ApiSocketPath;
        using (var api = new VmmApiClient(socket))
        {
            await api.PutAsync("mmds", request.Mmds.DeepClone(), ct);
            await PatchAsync(api, "vm", new VmStateUpdate { State = VmStateUpdate.Resumed }, Json.VmStateUpdate, ct);
        }

        return new MmdsVmHandle(vm, async (patch, token) =>
        {
            using var running = new VmmApiClient(socket);
            await running.PatchAsync("mmds", patch, token);
        });
    }

    private async Task<IVmHandle> RestoreAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, bool resume, CancellationToken ct)
    {
        foreach (string file in (string[])[snapshot.StatePath, snapshot.MemoryPath])
        {
            if (!File.Exists(file))
            {
                throw new VmLaunchException($"snapshot file {file} does not exist");
            }
        }

        JobWorkspace ws = request.Workspace;
        File.Delete(ws.ApiSocketPath);
        (IReadOnlyList<string> argv, string socket, VmConfig config) = _jail is { } jail
            ? JailedCommand(jail, request)
            : (VmmArguments(ws.ApiSocketPath, request.VmId), ws.ApiSocketPath, request.VmConfig);
        (string state, string memory) = (snapshot.StatePath, snapshot.MemoryPath);
        if (_jail is not null)
        {
            int dashes = argv.ToList().IndexOf("--");
            argv = [.. argv.Take(dashes), "--file", $"{state}:{JailState}", "--file", $"{memory}:{JailMemory}", .. argv.Skip(dashes)];
            (state, memory) = (JailState, JailMemory);
        }

        return await StartAsync(argv, socket, ws, onSpawned, async api =>
        {
            if (config.Logger is { } logger)
            {
                await api.PutAsync("logger", logger, Json.LoggerConfig, ct);
            }

            if (config.Metrics is { } metrics)
            {
                await api.PutAsync("metrics", metrics, Json.MetricsConfig, ct);
            }

            await api.PutAsync("snapshot/load", new SnapshotLoadParams
            {
                SnapshotPath = state,
                MemBackend = new MemoryBackend { BackendType = MemoryBackend.File, BackendPath = memory },
                ResumeVm = false,
                NetworkOverrides = [.. config.NetworkInterfaces.Select(i => new NetworkOverride { IfaceId = i.IfaceId, HostDevName = i.HostDevName })],
            }, Json.SnapshotLoadParams, ct);
            foreach (DriveConfig drive in config.Drives.Where(d => !d.IsReadOnly))
            {
                await PatchAsync(api, $"drives/{drive.DriveId}", new PartialDrive { DriveId = drive.DriveId, PathOnHost = drive.PathOnHost }, Json.PartialDrive, ct);
            }

            if (resume)
            {
                await api.PutAsync("mmds", request.Mmds.DeepClone(), ct);
                await PatchAsync(api, "vm", new VmStateUpdate { State = VmStateUpdate.Resumed }, Json.VmStateUpdate, ct);
            }
        }, ct);
    }

    private static Task PatchAsync<T>(VmmApiClient api, string path, T body, JsonTypeInfo<T> type, CancellationToken ct) =>
        api.PatchAsync(path, JsonSerializer.SerializeToNode(body, type)!, ct);
}
