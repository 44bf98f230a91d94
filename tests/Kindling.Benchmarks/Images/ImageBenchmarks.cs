using System.Diagnostics;
using Kindling.Benchmarks.Reporting;
using Kindling.Images;
using Kindling.Images.Overlays;
using Kindling.Images.Rootfs;
using Kindling.Testing;

namespace Kindling.Benchmarks.Images;

/// <summary>
/// How long the image store takes (moved out of the image tests, which assert behaviour only): a job's overlay
/// from a 100-file workspace (1 GiB sparse), and the minimal base image cold, cached in the same store and cached
/// in a new store (hash verified). No targets: figures to watch.
/// </summary>
internal static class ImageBenchmarks
{
    private const int OverlayRuns = 20;

    public static int Run(BenchReport report, string work)
    {
        ImageStoreOptions Options(string cache) => new() { CacheDirectory = cache, GuestDirectory = Path.Combine(RepoPaths.Root, "images", "guest") };
        string ws = Directory.CreateDirectory(Path.Combine(work, "workspace", "src")).Parent!.FullName;
        for (int i = 0; i < 100; i++)
        {
            File.WriteAllText(Path.Combine(ws, "src", $"file{i}.txt"), $"content of file {i}\n");
        }

        try
        {
            var overlays = new ImageStore(Options(Path.Combine(work, "overlay-cache")));
            List<double> ms = [];
            for (int i = 0; i < OverlayRuns; i++)
            {
                long t0 = Stopwatch.GetTimestamp();
                using Overlay o = overlays.CreateOverlayAsync(ws, 1L << 30, CancellationToken.None).GetAwaiter().GetResult();
                ms.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
            }

            report.Add(new BenchRow("overlay from 100 files (1 GiB sparse)", "ms", Stats.Median(ms)) { P90 = Stats.P90(ms), Runs = OverlayRuns });

            string cache = Path.Combine(work, "base-cache");
            var store = new ImageStore(Options(cache));
            long cold = Stopwatch.GetTimestamp();
            BaseImage built = store.EnsureBaseAsync(Flavour.Minimal, null, CancellationToken.None).GetAwaiter().GetResult();
            double coldMs = Stopwatch.GetElapsedTime(cold).TotalMilliseconds;
            long same = Stopwatch.GetTimestamp();
            store.EnsureBaseAsync(Flavour.Minimal, null, CancellationToken.None).GetAwaiter().GetResult();
            double sameMs = Stopwatch.GetElapsedTime(same).TotalMilliseconds;
            long fresh = Stopwatch.GetTimestamp();
            new ImageStore(Options(cache)).EnsureBaseAsync(Flavour.Minimal, null, CancellationToken.None).GetAwaiter().GetResult();
            double freshMs = Stopwatch.GetElapsedTime(fresh).TotalMilliseconds;
            report.Add(new BenchRow("minimal base image: cold build", "ms", coldMs) { Runs = 1, Note = $"{built.SizeBytes >> 20} MiB apparent" });
            report.Add(new BenchRow("minimal base image: cached, same store", "ms", sameMs) { Runs = 1 });
            report.Add(new BenchRow("minimal base image: cached, new store (hash verified)", "ms", freshMs) { Runs = 1 });
            return 0;
        }
        catch (ImageBuildException e)
        {
            report.Failed("overlay / minimal base image", "ms", null, e.Message);
            return 1;
        }
    }
}
