using System.Diagnostics;
using System.Globalization;
using Kindling.Images.Guest;
using Kindling.Native;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Benchmarks.Runner;

/// <summary>
/// Issue 21: job handed to the launcher → the first step's first output line on the serial console, cold boot
/// versus restore from a golden snapshot, through <see cref="WarmStarts"/> with the stub launcher (its guest boots
/// in no time, so the figures are the runner's own cost of each path: overlay copy, document re-stamp, load
/// checks). Samples alternate cold and warm. The KVM rows (emulated and hardware) need /dev/kvm and a guest image:
/// printed SKIPPED where that is missing.
/// </summary>
public static class WarmStartBenchmark
{
    private const int Samples = 20;

    public sealed record Result(TimeSpan ColdMedian, TimeSpan WarmMedian, TimeSpan ColdP90, TimeSpan WarmP90, TimeSpan GoldenTake);

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

            List<TimeSpan> cold = [], restored = [];
            for (int i = 1; i <= Samples; i++)
            {
                (VmLaunchRequest c, _) = await RequestAsync(images, dir, 2 * i);
                cold.Add(await FirstOutputAsync(stub, c));
                (VmLaunchRequest w, _) = await RequestAsync(images, dir, (2 * i) + 1);
                restored.Add(await FirstOutputAsync(warm, w));
            }

            return new Result(Pct(cold, 0.5), Pct(restored, 0.5), Pct(cold, 0.9), Pct(restored, 0.9), take);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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

        await vm.Exited;
        return first ?? throw new InvalidOperationException($"{request.VmId}: no step output");
    }
}
