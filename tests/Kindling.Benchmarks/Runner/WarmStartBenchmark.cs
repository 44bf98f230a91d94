using System.Diagnostics;
using System.Globalization;
using Kindling.Images.Guest;
using Kindling.Native;
using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Benchmarks.Runner;

/// <summary>
/// Issue 21: job handed to the launcher → the first step's first output line on the serial console, cold boot
/// versus restore from a golden snapshot, through <see cref="WarmStarts"/> with the stub launcher (its guest boots
/// in no time, so the figures are the runner's own cost of each path: overlay copy, document re-stamp, load
/// checks), and taking a warm slot (<see cref="WarmPool"/>: a VM restored and paused ahead of the job; the take moves
/// its folder, puts the job's MMDS and resumes it; refilling the slot between samples is not timed). Samples
/// alternate cold, restore and slot. The KVM rows (emulated and hardware) need /dev/kvm and a guest image:
/// printed SKIPPED where that is missing.
/// </summary>
public static class WarmStartBenchmark
{
    private const int Samples = 20;

    public sealed record Result(TimeSpan ColdMedian, TimeSpan WarmMedian, TimeSpan ColdP90, TimeSpan WarmP90, TimeSpan GoldenTake)
    {
        public TimeSpan SlotMedian { get; init; }
        public TimeSpan SlotP90 { get; init; }
    }

    public static async Task<Result> RunAsync()
    {
        string dir = Directory.CreateTempSubdirectory("kindling-bench-warm-").FullName;
        try
        {
            var images = new PlaceholderImageProvider(Path.Combine(dir, "images"));
            var stub = new StubVmLauncher(TimeSpan.Zero);
            var store = new SnapshotStore(Path.Combine(dir, "images", "snapshots"), TimeProvider.System);
            using var golden = new GoldenSnapshot(stub, stub, store, images, new NoTapManager(), TimeSpan.FromMinutes(1));
            await using var warm = new WarmStarts(stub, stub, store, golden, TimeProvider.System, NullLogger<WarmStarts>.Instance);

            // The first job takes the golden snapshot (timed: what the first job of a kind pays in the background).
            long t0 = Stopwatch.GetTimestamp();
            (VmLaunchRequest first, SnapshotKey key) = await RequestAsync(images, dir, 0);
            await FirstOutputAsync(warm, first);
            await warm.Taking(key);
            TimeSpan take = Stopwatch.GetElapsedTime(t0);

            await using WarmPool pool = Pool(dir, warm, images);
            List<TimeSpan> cold = [], restored = [], slot = [];
            for (int i = 1; i <= Samples; i++)
            {
                (VmLaunchRequest c, _) = await RequestAsync(images, dir, 3 * i);
                cold.Add(await FirstOutputAsync(stub, c));
                (VmLaunchRequest w, _) = await RequestAsync(images, dir, (3 * i) + 1);
                restored.Add(await FirstOutputAsync(warm, w));
                slot.Add(await SlotFirstOutputAsync(pool, images, dir, (3 * i) + 2));
            }

            return new Result(Pct(cold, 0.5), Pct(restored, 0.5), Pct(cold, 0.9), Pct(restored, 0.9), take) { SlotMedian = Pct(slot, 0.5), SlotP90 = Pct(slot, 0.9) };
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>A pool of one warm slot of the benchmark's VM (1 vCPU, 256 MiB, no network), refilled after each take.</summary>
    private static WarmPool Pool(string dir, WarmStarts warm, PlaceholderImageProvider images) => new(
        Microsoft.Extensions.Options.Options.Create(new KindlingOptions
        {
            StateDirectory = dir,
            Host = new HostOptions { Vcpus = 4, MemoryMib = 4096 },
            Pools = [new PoolOptions { Name = "bench", Labels = ["bench"], Vcpus = 1, MemoryMib = 256, Warm = 1 }],
            Launcher = new LauncherOptions { Kind = "stub", Network = false, Snapshots = true },
        }),
        warm, images, new NoTapManager(), TimeProvider.System, NullLogger<WarmPool>.Instance);

    /// <summary>
    /// Waits (not timed) for a ready slot, then times what the job runner does with it: take, move its folder to the
    /// job's, open the console, put the job's MMDS and resume → the first step's first output line.
    /// </summary>
    private static async Task<TimeSpan> SlotFirstOutputAsync(WarmPool pool, PlaceholderImageProvider images, string dir, long id)
    {
        pool.Refill();
        while (pool.Status()[0].Ready == 0)
        {
            Task changed = pool.Changed;
            if (pool.Status()[0] is { Ready: 0, LastError: { } error, Refilling: 0 })
            {
                throw new InvalidOperationException($"the warm slot was not made: {error}");
            }

            await changed.WaitAsync(TimeSpan.FromMinutes(1));
        }

        (VmLaunchRequest request, SnapshotKey key) = await RequestAsync(images, dir, id);
        long t0 = Stopwatch.GetTimestamp();
        WarmSlot slot = pool.Take("bench", id, key, _ => { }) ?? throw new InvalidOperationException("no warm slot to take");
        slot.MoveTo(request.Workspace);
        using var serial = new StreamReader(new FileStream(request.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Read));
        await slot.ReleaseSerialAsync();
        await using IVmHandle vm = await pool.ResumeAsync(slot, request with { VmId = slot.VmId }, CancellationToken.None);
        TimeSpan first = await FirstStepOutputAsync(serial, t0) ?? throw new InvalidOperationException($"{slot.VmId}: no step output");
        await vm.Exited;
        return first;
    }

    private static TimeSpan Pct(List<TimeSpan> xs, double p) => xs.Order().ElementAt((int)Math.Min(xs.Count - 1, Math.Floor(p * xs.Count)));

    private static async Task<(VmLaunchRequest, SnapshotKey)> RequestAsync(PlaceholderImageProvider images, string dir, long id)
    {
        GuestImages guest = await images.EnsureImagesAsync(null, CancellationToken.None);
        var ws = new JobWorkspace(Path.Combine(dir, "jobs", id.ToString(CultureInfo.InvariantCulture)));
        Directory.CreateDirectory(ws.Directory);
        FdIo.MakeFifo(ws.SerialFifoPath);
        string overlay = await images.CreateOverlayAsync(ws.Directory, CancellationToken.None);
        var spec = new JobSpec { Name = "bench", Steps = [new StepSpec { Name = "s", Run = "echo first-output" }] };
        var request = new VmLaunchRequest(JobWorkspace.VmId(id), ws, VmConfigBuilder.Build(guest, overlay, 1, 256, ws, null),
            JobDocument.Mmds(MmdsTree.Build(id, "bench", TimeSpan.Zero, spec, new Dictionary<string, string>(), null, null, now: DateTimeOffset.UtcNow)));
        return (request, SnapshotKey.For(request.VmConfig));
    }

    /// <summary>Launch → the line after the first step-start; the VM then runs to its end (not timed).</summary>
    private static async Task<TimeSpan> FirstOutputAsync(IVmLauncher launcher, VmLaunchRequest request)
    {
        long t0 = Stopwatch.GetTimestamp();
        await using IVmHandle vm = await launcher.LaunchAsync(request, _ => { }, CancellationToken.None);
        using var serial = new StreamReader(new FileStream(request.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Read));
        TimeSpan? first = await FirstStepOutputAsync(serial, t0);
        await vm.Exited;
        return first ?? throw new InvalidOperationException($"{request.VmId}: no step output");
    }

    /// <summary>Reads the console to its end; the time from <paramref name="t0"/> to the line after the first step-start.</summary>
    private static async Task<TimeSpan?> FirstStepOutputAsync(StreamReader serial, long t0)
    {
        TimeSpan? first = null;
        bool inStep = false;
        while (await serial.ReadLineAsync() is { } line)
        {
            if (inStep && first is null)
            {
                first = Stopwatch.GetElapsedTime(t0);
            }

            inStep |= line.StartsWith("##kindling[step-start", StringComparison.Ordinal);
        }

        return first;
    }
}
