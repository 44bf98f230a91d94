using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>The warm pool's slots themselves: making one (a paused restore), destroying one, and a crashed runner's leftovers.</summary>
public sealed partial class WarmPool
{
    private async Task MakeSlotAsync(PoolState p)
    {
        CancellationToken ct = _stopping.Token;
        GuestImages guest = await _images.EnsureImagesAsync(null, ct);
        long n = NextNumber();
        var slot = new WarmSlot(p.Options.Name, n, new JobWorkspace(Path.Combine(Root, n.ToString(CultureInfo.InvariantCulture))),
            _o.Launcher.Network ? GuestNetwork.ForSlot(n) : null);
        lock (_gate)
        {
            p.Filling = slot;
            Signal();
        }

        try
        {
            JobWorkspace ws = slot.Workspace;
            Directory.CreateDirectory(ws.Directory);
            string overlay = await _images.CreateOverlayAsync(ws.Directory, ct);
            VmConfig config = VmConfigBuilder.Build(guest, overlay, p.Options.Vcpus, p.Options.MemoryMib, ws, slot.Network);
            var request = new VmLaunchRequest(slot.VmId, ws, config, new JsonObject { [MmdsKeys.Kindling] = new JsonObject() });
            var key = SnapshotKey.For(config);
            slot.Key = key;
            SnapshotFiles? files = _warm!.Store.Find(key, out string? damaged);
            if (damaged is not null)
            {
                _warm.Store.Discard(key, damaged);
            }

            if (files is null)
            {
                _warm.StartTaking(key, request);
                Task taking = _warm.Taking(key);
                if (taking.IsCompleted)
                {
                    // Not being taken: its last golden boot failed and waits out its own backoff; so does this pool.
                    throw new VmLaunchException($"no golden snapshot {key.Hash}: taking it failed and is not retried yet (see the golden snapshots)");
                }

                lock (_gate)
                {
                    p.AwaitingGolden = taking;
                }

                _ = taking.ContinueWith(_ => { lock (_gate) { p.AwaitingGolden = null; } Refill(); }, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
                throw new NoGoldenSnapshotException(damaged is null
                    ? $"no golden snapshot {key.Hash} yet (being taken); jobs cold-boot or restore until there is one"
                    : $"golden snapshot {key.Hash} was damaged ({damaged}); it is being taken again");
            }

            if (slot.Network is { } net)
            {
                await _taps.CreateAsync(net, ct);
            }

            await WarmStarts.CopyOverlayAsync(files.OverlayPath, config, ct);
            FdIo.MakeFifo(ws.SerialFifoPath);
            slot.Serial = SerialFifoStream.Open(ws.SerialFifoPath);
            try
            {
                slot.Vm = await _warm.Snapshots.RestorePausedAsync(request, files, pid => slot.Pid = pid, ct);
            }
            catch (VmLaunchException e)
            {
                _warm.Store.Discard(key, e.Message);
                throw new VmLaunchException($"the VMM refused golden snapshot {key.Hash} ({e.Message}); it is discarded and taken again", e);
            }

            bool keep;
            lock (_gate)
            {
                p.Filling = null;
                keep = _suspended is null && !_stopping.IsCancellationRequested && p.Ready.Count < p.Options.Warm;
                if (keep)
                {
                    p.Ready.Add(slot);
                }

                Signal();
            }

            if (!keep)
            {
                await DestroyAsync(slot);
            }
        }
        catch
        {
            await DestroyAsync(slot);
            lock (_gate)
            {
                p.Filling = null;
            }

            throw;
        }
    }

    /// <summary>A slot number whose folder and TAP do not exist (another runner on this machine may use the same names).</summary>
    private long NextNumber()
    {
        while (true)
        {
            long n = Interlocked.Increment(ref _next) % 1_000_000_000_000;
            if (!Directory.Exists(Path.Combine(Root, n.ToString(CultureInfo.InvariantCulture))) && !Directory.Exists($"/sys/class/net/{GuestNetwork.ForSlot(n).TapName}"))
            {
                return n;
            }
        }
    }

    /// <summary>Kills the slot's VMM and removes its jail, TAP and folder; a failure is logged (the reaper retries).</summary>
    private async Task DestroyAsync(WarmSlot slot)
    {
        try
        {
            await slot.ReleaseSerialAsync();
            if (slot.Vm is { } vm)
            {
                await vm.DisposeAsync(); // kills it when it still runs
            }

            await _launcher.ReleaseAsync(slot.VmId, CancellationToken.None);
            if (slot.Network is { } net)
            {
                await _taps.DeleteAsync(net.TapName, CancellationToken.None);
            }

            _images.DeleteWorkFolder(slot.Workspace.Directory);
        }
        catch (Exception e) when (e is IOException or VmLaunchException or UnauthorizedAccessException)
        {
            LogDiscardFailed(_log, slot.VmId, e.Message);
        }
    }

    /// <summary>
    /// What a runner that stopped without discarding its slots left under <c>STATE/warm</c>: its VMMs (killed) and
    /// folders (removed), except those the pool holds now; one line per thing removed.
    /// </summary>
    public async Task<IReadOnlyList<string>> ReapLeftoversAsync()
    {
        if (!Directory.Exists(Root))
        {
            return [];
        }

        IReadOnlySet<string> held = Held().Directories;
        List<string> removed = [];
        foreach (string dir in Directory.GetDirectories(Root).Where(d => !held.Contains(d)))
        {
            foreach (int pid in ProcessInspector.WorkingUnder(dir))
            {
                await ProcessInspector.KillAndWaitAsync(pid, TimeSpan.FromSeconds(10));
                removed.Add(string.Create(CultureInfo.InvariantCulture, $"warm slot VM process {pid}"));
            }

            _images.DeleteWorkFolder(dir);
            removed.Add("warm slot folder " + dir);
        }

        return removed;
    }
}
