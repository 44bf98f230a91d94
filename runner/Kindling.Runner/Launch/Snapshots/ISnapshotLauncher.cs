namespace Kindling.Runner.Launch.Snapshots;

/// <summary>
/// A launcher that can snapshot and restore its VMs (Firecracker's <c>PATCH /vm</c>, <c>PUT /snapshot/create</c>
/// and <c>PUT /snapshot/load</c>). <see cref="WarmStarts"/> drives it; both <see cref="VmmLauncher"/> and
/// <see cref="StubVmLauncher"/> implement it, so the warm path tested with the stub is the one that runs on KVM.
/// </summary>
public interface ISnapshotLauncher
{
    /// <summary>
    /// Pauses <paramref name="vm"/> (started from <paramref name="golden"/>, its agent parked) and writes its state
    /// and memory to <paramref name="statePath"/> and <paramref name="memoryPath"/>; the caller ends the VM after.
    /// Throws <see cref="VmLaunchException"/> with the VMM's refusal.
    /// </summary>
    Task SnapshotAsync(VmLaunchRequest golden, IVmHandle vm, string statePath, string memoryPath, CancellationToken ct);

    /// <summary>
    /// Starts a VMM for <paramref name="request"/> from <paramref name="snapshot"/>: load (paused, the request's TAP
    /// as the network override), the request's drives swapped in (<c>PATCH /drives/ID</c>), the request's MMDS put,
    /// then resume. The guest wakes in the agent's wait and finds its job. Throws <see cref="VmLaunchException"/>
    /// (nothing left running) when the snapshot is missing, damaged or refused.
    /// </summary>
    Task<IVmHandle> RestoreAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct);

    /// <summary>
    /// As <see cref="RestoreAsync"/> up to the drives swap, and no further: the VM stays paused, with no MMDS data
    /// (a warm slot: <see cref="WarmPool"/>). <see cref="ResumeAsync"/> hands it its job.
    /// </summary>
    Task<IVmHandle> RestorePausedAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct);

    /// <summary>
    /// Puts <paramref name="request"/>'s MMDS into <paramref name="vm"/> (restored paused for <c>request.VmId</c>, its
    /// files now in <c>request.Workspace</c>) and resumes it; the handle returned reaches the VMM at its files' new
    /// place. Throws <see cref="VmLaunchException"/> with the VMM's refusal (a VM that is not paused: 400).
    /// </summary>
    Task<IVmHandle> ResumeAsync(VmLaunchRequest request, IVmHandle vm, CancellationToken ct);
}
