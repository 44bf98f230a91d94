using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api;

/// <summary>Snapshots: PUT /snapshot/create while paused, PUT /snapshot/load before anything boot-specific.</summary>
public sealed partial class VmmController
{
    /// <summary>Firecracker's refusal of a load after boot-specific resources were configured.</summary>
    public const string LoadAfterBootResources = "Loading a microVM snapshot not allowed after configuring boot-specific resources.";

    /// <summary>The resources whose PUT commits the VMM to a cold boot (Firecracker's boot path).</summary>
    private static readonly HashSet<string> BootSpecificResources =
        new(["boot-source", "machine-config", "drives", "network-interfaces", "vsock", "entropy"], StringComparer.Ordinal);

    private bool _bootSpecificConfigured;

    private void NoteBootSpecific(string resource) => _bootSpecificConfigured |= BootSpecificResources.Contains(resource);

    private bool BootSpecificConfigured =>
        _bootSpecificConfigured || _config.BootSource is not null || _config.Drives.Count > 0 || _config.NetworkInterfaces.Count > 0;

    private VmmOutcome CreateSnapshotOf(SnapshotCreateRequest request)
    {
        switch (State)
        {
            case VmmState.NotStarted:
                return VmmOutcome.Fault("The requested operation on snapshot/create is not supported before starting the microVM.");
            case VmmState.Running:
                return VmmOutcome.Fault("snapshot/create: the microVM is running; pause it first (PATCH /vm {\"state\": \"Paused\"}) so its state does not change while it is saved");
        }

        _backend.CreateSnapshot(request, EffectiveConfig);
        return VmmOutcome.NoContent;
    }

    private VmmOutcome LoadSnapshotFrom(SnapshotLoadRequest request)
    {
        if (State != VmmState.NotStarted)
        {
            return VmmOutcome.Fault("The requested operation on snapshot/load is not supported after starting the microVM; start a new kindling-vmm to load a snapshot.");
        }

        if (BootSpecificConfigured)
        {
            return VmmOutcome.Fault(LoadAfterBootResources);
        }

        VmConfig restored = _backend.LoadSnapshot(request, _config, Mmds);
        if (restored.MmdsConfig is { } mmds)
        {
            ApplyMmdsConfig(mmds);
        }

        Commit(restored);
        State = request.ResumeVm ? VmmState.Running : VmmState.Paused;
        return VmmOutcome.NoContent;
    }
}
