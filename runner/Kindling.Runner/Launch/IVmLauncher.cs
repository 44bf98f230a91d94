using System.Text.Json.Nodes;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>Everything needed to start one VM. <see cref="Mmds"/> holds secrets: never log or persist it.</summary>
public sealed record VmLaunchRequest(string VmId, JobWorkspace Workspace, VmConfig VmConfig, JsonObject Mmds);

/// <summary>A started VM (one VMM process).</summary>
public interface IVmHandle : IAsyncDisposable
{
    int Pid { get; }

    /// <summary>Completes with the VMM's exit code when it ends.</summary>
    Task<int> Exited { get; }

    /// <summary>Stops the VM now (SIGKILL to the VMM) and waits for it to be reaped.</summary>
    Task KillAsync();

    /// <summary>Whether the VM was restored from a snapshot rather than booted (issue 21's warm starts).</summary>
    bool Restored => false;

    /// <summary>Applies a JSON merge patch to the running VM's MMDS (Firecracker's <c>PATCH /mmds</c>). May hold secrets: never log it.</summary>
    Task PatchMmdsAsync(JsonObject patch, CancellationToken ct) =>
        throw new NotSupportedException("this VM's metadata cannot be changed after it started");
}

/// <summary>Starts VMs. The real one spawns <c>kindling-vmm</c>; the stub simulates a guest for tests.</summary>
public interface IVmLauncher
{
    /// <summary>
    /// Starts the VM; the serial FIFO at <c>Workspace.SerialFifoPath</c> already exists and the caller is (about
    /// to be) reading it. <paramref name="onSpawned"/> runs as soon as the process exists, before configuration,
    /// so its pid is recorded even if the rest fails.
    /// </summary>
    Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct);

    /// <summary>Whether its VMs' <see cref="IVmHandle.PatchMmdsAsync"/> works, so the runner can hand the guest its steps one at a time (host-driven steps).</summary>
    bool PatchesMmds => false;

    /// <summary>Whether <paramref name="pid"/> is a VMM this launcher started for <paramref name="vmId"/> (for the reaper: pids get reused).</summary>
    bool IsOurProcess(int pid, string vmId) => ProcessInspector.CommandLineContains(pid, vmId);

    /// <summary>
    /// Removes what the launcher made for <paramref name="vmId"/> besides the process (a jail: its chroot and
    /// cgroup), after the process is gone; safe to repeat, and a no-op when there is nothing. Throws when
    /// something is left.
    /// </summary>
    Task ReleaseAsync(string vmId, CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// Removes what the launcher left for VMs that are not in <paramref name="liveVmIds"/> and whose process is
    /// gone (a jail whose VMM was killed with the runner, with no job left to release it); returns one line per
    /// thing removed.
    /// </summary>
    Task<IReadOnlyList<string>> ReapOrphansAsync(IReadOnlySet<string> liveVmIds, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<string>>([]);
}
