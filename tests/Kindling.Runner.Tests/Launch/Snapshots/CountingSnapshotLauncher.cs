using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>
/// The stub launcher with its calls counted: boots, restores, paused restores (warm slots) and resumes; how many
/// VMs (golden boots aside) and paused VMs ran at once at most; the paused restores' requests. It refuses what the
/// stub refuses, and <see cref="FailPausedRestores"/> more paused restores as a VMM that cannot start would.
/// </summary>
internal sealed class CountingSnapshotLauncher(StubVmLauncher stub) : IVmLauncher, ISnapshotLauncher
{
    private readonly Lock _gate = new();
    private readonly List<VmLaunchRequest> _paused = [];
    private readonly HashSet<string> _pausedNow = new(StringComparer.Ordinal);
    private int _live;

    public StubVmLauncher Stub => stub;
    public int Boots;
    public int Restores;
    public int PausedRestores;
    public int Resumes;
    public int MaxLive;
    public int MaxPaused;

    /// <summary>How many of the next paused restores fail ("kindling-vmm exited before opening its API socket").</summary>
    public int FailPausedRestores;

    public IReadOnlyList<VmLaunchRequest> PausedRequests { get { lock (_gate) return [.. _paused]; } }

    public bool PatchesMmds => stub.PatchesMmds;

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        Interlocked.Increment(ref Boots);
        return Track(request, await stub.LaunchAsync(request, onSpawned, ct), paused: false);
    }

    public Task SnapshotAsync(VmLaunchRequest golden, IVmHandle vm, string statePath, string memoryPath, CancellationToken ct) =>
        stub.SnapshotAsync(golden, vm, statePath, memoryPath, ct);

    public async Task<IVmHandle> RestoreAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct)
    {
        Interlocked.Increment(ref Restores);
        return Track(request, await stub.RestoreAsync(request, snapshot, onSpawned, ct), paused: false);
    }

    public async Task<IVmHandle> RestorePausedAsync(VmLaunchRequest request, SnapshotFiles snapshot, Action<int> onSpawned, CancellationToken ct)
    {
        Interlocked.Increment(ref PausedRestores);
        lock (_gate)
        {
            _paused.Add(request);
        }

        if (Interlocked.Decrement(ref FailPausedRestores) >= 0)
        {
            throw new VmLaunchException("kindling-vmm exited with code 1 before opening its API socket: cannot open /dev/kvm");
        }

        return Track(request, await stub.RestorePausedAsync(request, snapshot, onSpawned, ct), paused: true);
    }

    public async Task<IVmHandle> ResumeAsync(VmLaunchRequest request, IVmHandle vm, CancellationToken ct)
    {
        IVmHandle resumed = await stub.ResumeAsync(request, vm, ct);
        Interlocked.Increment(ref Resumes);
        lock (_gate)
        {
            _pausedNow.Remove(request.VmId);
        }

        return resumed;
    }

    public bool IsOurProcess(int pid, string vmId) => ((IVmLauncher)stub).IsOurProcess(pid, vmId);

    private IVmHandle Track(VmLaunchRequest request, IVmHandle vm, bool paused)
    {
        if (request.VmId.StartsWith("kindling-golden-", StringComparison.Ordinal))
        {
            return vm; // not counted against the host (README: one golden boot at a time)
        }

        lock (_gate)
        {
            MaxLive = Math.Max(MaxLive, ++_live);
            if (paused)
            {
                _pausedNow.Add(request.VmId);
                MaxPaused = Math.Max(MaxPaused, _pausedNow.Count);
            }
        }

        int gone = 0;
        void Gone()
        {
            if (Interlocked.Exchange(ref gone, 1) == 0)
            {
                lock (_gate)
                {
                    _live--;
                    _pausedNow.Remove(request.VmId);
                }
            }
        }

        _ = vm.Exited.ContinueWith(_ => Gone(), TaskScheduler.Default);
        return new CountedVm(vm, Gone);
    }

    /// <summary>Counts the VM gone when it is disposed (the runner's end of it), not later when a continuation gets to it.</summary>
    private sealed class CountedVm(IVmHandle inner, Action gone) : IVmHandle
    {
        public int Pid => inner.Pid;
        public Task<int> Exited => inner.Exited;
        public bool Restored => inner.Restored;
        public Task KillAsync() => inner.KillAsync();
        public Task PatchMmdsAsync(System.Text.Json.Nodes.JsonObject patch, CancellationToken ct) => inner.PatchMmdsAsync(patch, ct);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            gone();
        }
    }
}
