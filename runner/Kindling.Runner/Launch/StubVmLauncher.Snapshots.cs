using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// Snapshots of stub guests, with the refusals of kindling-vmm that a runner can run into: a snapshot of a guest
/// that has not parked (the launcher did not wait for agent-waiting) is refused; a load reads the state file (bad
/// JSON or another format: refused), needs the memory file (missing, or not the memory the state was written with:
/// refused), opens every drive the snapshot names (missing: refused) and takes network overrides only for
/// interfaces the snapshot has. The clone wakes parked: it finds the MMDS put after the load, or waits.
/// </summary>
public sealed partial class StubVmLauncher : ISnapshotLauncher
{
    /// <summary>The kernel argument with which the agent parks (waits for its document) instead of requiring it at once.</summary>
    public const string ParkArgument = "kindling.park=1";

    private const string StateFormat = "kindling-stub-vm/1";

    /// <summary>How many bytes of "guest memory" a stub snapshot writes.</summary>
    private const int MemoryBytes = 64 * 1024;

    public Task SnapshotAsync(VmLaunchRequest golden, IVmHandle vm, string statePath, string memoryPath, CancellationToken ct)
    {
        if (!_guests.TryGetValue(golden.VmId, out StubGuest? guest))
        {
            throw new VmLaunchException($"VMM API PUT /snapshot/create answered 400: the microVM {golden.VmId} is not running");
        }

        if (!guest.Waiting)
        {
            throw new VmLaunchException("stub VMM refused the snapshot: its guest has not reported agent-waiting (a clone would wake mid-boot)");
        }

        byte[] memory = RandomNumberGenerator.GetBytes(MemoryBytes);
        File.WriteAllBytes(memoryPath, memory);
        var state = new JsonObject
        {
            ["format"] = StateFormat,
            ["memory_sha256"] = Convert.ToHexStringLower(SHA256.HashData(memory)),
            ["config"] = JsonNode.Parse(VmConfigBuilder.ToJson(golden.VmConfig)),
        };
        File.WriteAllText(statePath, state.ToJsonString());
        return Task.CompletedTask;
    }

    public Task<IVmHandle> RestoreAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct) =>
        Task.FromResult(Restore(request, snapshot, onSpawned, paused: false));

    public Task<IVmHandle> RestorePausedAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct) =>
        Task.FromResult(Restore(request, snapshot, onSpawned, paused: true));

    /// <summary>PUT /mmds (replacing the data store) and PATCH /vm Resumed; refused for a VM that is not running or not paused, as the VMM's API does.</summary>
    public Task<IVmHandle> ResumeAsync(VmLaunchRequest request, IVmHandle vm, CancellationToken ct)
    {
        if (!_guests.TryGetValue(request.VmId, out StubGuest? guest) || vm.Exited.IsCompleted)
        {
            throw new VmLaunchException($"VMM API PUT /mmds failed: the microVM {request.VmId} is not running");
        }

        if (!guest.Paused)
        {
            throw new VmLaunchException("VMM API PATCH /vm answered 400: the microVM is not paused");
        }

        guest.PutMmds(request.Mmds);
        guest.Resume(Path.Combine(request.Workspace.Directory, ImageStoreProvider.WorkspaceFolder));
        return Task.FromResult(vm);
    }

    private IVmHandle Restore(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, bool paused)
    {
        static VmLaunchException Refused(string why) => new($"VMM API PUT /snapshot/load answered 400: snapshot/load: {why}");
        VmConfig config;
        try
        {
            JsonNode state = JsonNode.Parse(File.ReadAllText(snapshot.StatePath)) ?? throw new JsonException("empty");
            if (state["format"]?.GetValue<string>() != StateFormat)
            {
                throw Refused($"{snapshot.StatePath} is not a {StateFormat} state file");
            }

            if (!File.Exists(snapshot.MemoryPath))
            {
                throw Refused($"the memory file {snapshot.MemoryPath} does not exist");
            }

            if (Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(snapshot.MemoryPath))) != state["memory_sha256"]?.GetValue<string>())
            {
                throw Refused($"the memory file {snapshot.MemoryPath} is not the memory this state was written with");
            }

            config = state["config"].Deserialize(VmmContractJsonContext.Default.VmConfig) ?? throw new JsonException("no config");
        }
        catch (Exception e) when (e is JsonException or IOException or InvalidOperationException or FormatException)
        {
            throw Refused($"{snapshot.StatePath} cannot be read: {e.Message}");
        }

        foreach (DriveConfig drive in config.Drives)
        {
            if (drive.PathOnHost is { } path && !File.Exists(path))
            {
                throw Refused($"drives[{drive.DriveId}]: {path} does not exist");
            }
        }

        foreach (NetworkInterfaceConfig iface in request.VmConfig.NetworkInterfaces)
        {
            if (!config.NetworkInterfaces.Any(i => i.IfaceId == iface.IfaceId))
            {
                throw Refused($"network_overrides: the snapshot has no interface \"{iface.IfaceId}\"");
            }
        }

        // Load, then PATCH /drives/ID to the request's files, the request's TAP, the request's MMDS, resume.
        VmConfig clone = config with
        {
            Drives = [.. config.Drives.Select(d => request.VmConfig.Drives.FirstOrDefault(r => r.DriveId == d.DriveId) is { } mine ? d with { PathOnHost = mine.PathOnHost } : d)],
            NetworkInterfaces = request.VmConfig.NetworkInterfaces,
        };
        return Start(request, clone, onSpawned, restored: true, paused);
    }
}
