using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Snapshot;

namespace Kindling.Vmm.Cli;

/// <summary>PUT /snapshot/create and PUT /snapshot/load over the real machine.</summary>
public sealed partial class MicroVmBackend
{
    public void CreateSnapshot(SnapshotCreateRequest request, VmConfig config)
    {
        ArgumentNullException.ThrowIfNull(request);
        MicroVm vm = _vm ?? throw new VmmActionException("snapshot/create needs a started, paused microVM");
        try
        {
            vm.CreateSnapshot(request.SnapshotPath, request.MemFilePath, VmConfigJson.Serialize(config));
        }
        catch (Exception e) when (e is SnapshotException or GuestMemoryException or Kvm.KvmException or InvalidOperationException)
        {
            throw new VmmActionException($"snapshot/create failed: {e.Message}", e);
        }
    }

    public VmConfig LoadSnapshot(SnapshotLoadRequest request, VmConfig current, MmdsDataStore mmds)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(current);
        if (_vm is not null)
        {
            throw new VmmActionException("snapshot/load: this VMM already runs a microVM");
        }

        MicroVmState state;
        VmConfig config;
        try
        {
            (SnapshotOrigin origin, ReadOnlyMemory<byte> body) = SnapshotFile.Read(request.SnapshotPath);
            state = MicroVmStateCodec.Decode(body, request.SnapshotPath);
            config = WithOverrides(VmConfigJson.Parse<VmConfig>(state.ConfigJson, $"the configuration inside {request.SnapshotPath}"), request)
                with { Serial = current.Serial, Logger = current.Logger, Metrics = current.Metrics };
            SnapshotFile.CheckOrigin(origin, HostCpu.Origin(ConfigMapping.CpuTemplateOf(config).ToString()), request.SnapshotPath);
        }
        catch (Exception e) when (e is SnapshotException or VmConfigException or CliException)
        {
            throw new VmmActionException($"snapshot/load: {e.Message}", e);
        }

        try
        {
            Launch(config, mmds, (options, interceptorFor) =>
                MicroVm.Restore(state, request.MemFilePath, request.ResumeVm, config, options, _loggers, _time, interceptorFor, TakePrepared()));
        }
        catch (VmmActionException e)
        {
            throw new VmmActionException($"snapshot/load: {e.Message}", e);
        }

        return config;
    }

    /// <summary>The snapshot's configuration with this clone's TAPs; an override of an interface the snapshot lacks is refused.</summary>
    private static VmConfig WithOverrides(VmConfig config, SnapshotLoadRequest request)
    {
        foreach (string iface in request.NetworkOverrides.Keys)
        {
            if (!config.NetworkInterfaces.Any(i => i.IfaceId == iface))
            {
                throw new SnapshotException($"network_overrides: the snapshot has no interface \"{iface}\" (it has: {string.Join(", ", config.NetworkInterfaces.Select(i => i.IfaceId))})");
            }
        }

        return config with
        {
            NetworkInterfaces = [.. config.NetworkInterfaces.Select(i =>
                request.NetworkOverrides.TryGetValue(i.IfaceId, out string? tap) ? i with { HostDevName = tap } : i)],
        };
    }
}
