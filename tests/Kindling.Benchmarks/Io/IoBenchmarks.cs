using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;
using Kindling.Vmm.RateLimiting;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Benchmarks.Io;

/// <summary>
/// The io suite: virtio-blk through the real device path (MMIO transport, split queue, request parsing, pread
/// into guest RAM) driven by an in-process driver, against plain pread of the same file; virtio-net TX to a TAP
/// against raw TAP writes; rate limiter accuracy with the system clock. Prints a table and one JSON line.
/// </summary>
internal static class IoBenchmarks
{
    private const long FileSize = 256L << 20;

    /// <summary>Requests per queue notification (and distinct destination buffers on both sides).</summary>
    private const int Batch = 64;
    private static readonly TimeSpan Duration = TimeSpan.FromSeconds(1);
    private const int Rounds = 5;

    /// <summary>The parts of the suite, each selectable on its own: <c>io blk</c>, <c>io net</c>, <c>io limiter</c>.</summary>
    public static readonly string[] Parts = ["blk", "limiter", "net", "guestnet"];

    public static int Run(Kindling.Benchmarks.Reporting.BenchReport report, string artifactsDirectory, IReadOnlyCollection<string>? only = null)
    {
        bool Selected(string part) => only is null || only.Count == 0 || only.Contains(part);
        var rows = new List<Row>();
        string path = Path.Combine(Path.GetTempPath(), $"kindling-io-bench-{Environment.ProcessId}.img");
        try
        {
            if (Selected("blk") || Selected("limiter"))
            {
                CreateFile(path);
            }

            if (Selected("blk"))
            {
                rows.Add(Block(path, "blk 4K random read", 4096, random: true, target: 0.8));
                rows.Add(Block(path, "blk 64K sequential read", 65536, random: false, target: 0.9));
            }

            if (Selected("limiter"))
            {
                rows.Add(RateLimited(path));
            }
        }
        finally
        {
            File.Delete(path);
        }

        if (Selected("net") && HostFacts.RootUnavailableReason is null)
        {
            rows.Add(NetTx());
        }
        else if (Selected("net"))
        {
            Console.WriteLine($"net TX: skipped ({HostFacts.RootUnavailableReason})");
        }

        List<(string Name, double Value, string Unit, string Target, bool Ok)> guestNet = [];
        if (Selected("guestnet") && (HostFacts.RootUnavailableReason ?? (File.Exists("/usr/sbin/nft") ? null : "needs nft (apt-get install nftables)")) is { } noGuestNet)
        {
            Console.WriteLine($"guest network: skipped ({noGuestNet})");
        }
        else if (Selected("guestnet"))
        {
            GuestNetworkBenchmarks.Run(report, guestNet);
        }

        Console.WriteLine();
        Console.WriteLine($"{"benchmark",-30} {"device",14} {"limit",14} {"unit",-8} {"ratio",7} {"target",7}  ok");
        foreach (Row r in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Name,-30} {r.Device,14:F0} {r.Limit,14:F0} {r.Unit,-8} {r.Ratio,7:F3} {r.Target,7:F2}  {(r.Ok ? "yes" : "MISSED")}"));
        }

        foreach ((string name, double value, string unit, string target, bool ok) in guestNet)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-30} {value,14:F3} {unit,-8} target {target}  {(ok ? "MET" : "MISSED")}"));
            report.Add(new Kindling.Benchmarks.Reporting.BenchRow(name, unit, value) { Target = target, Ok = ok });
        }

        var summary = rows.ToDictionary(r => r.Name, r => new { device = Math.Round(r.Device), limit = Math.Round(r.Limit), unit = r.Unit, ratio = Math.Round(r.Ratio, 3), target = r.Target, ok = r.Ok });
        Console.WriteLine("IO-BENCH-JSON " + JsonSerializer.Serialize(summary));
        foreach (Row r in rows)
        {
            report.Add(new Kindling.Benchmarks.Reporting.BenchRow($"{r.Name}: device / limit", "x", r.Ratio)
            {
                Target = $">= {r.Target:F2}",
                Ok = r.Ok,
                Note = string.Create(CultureInfo.InvariantCulture, $"device {r.Device:F0} {r.Unit}, limit {r.Limit:F0} {r.Unit}"),
            });
        }

        report.Finish(artifactsDirectory);
        return report.ExitCode;
    }

    private sealed record Row(string Name, double Device, double Limit, string Unit, double Ratio, double Target, bool Ok);

    private static Row Ratio(string name, double device, double limit, string unit, double target) =>
        new(name, device, limit, unit, device / limit, target, device / limit >= target);

    private static void CreateFile(string path)
    {
        byte[] chunk = new byte[1 << 20];
        new Random(1).NextBytes(chunk);
        using (FileStream f = File.Create(path))
        {
            for (long done = 0; done < FileSize; done += chunk.Length)
            {
                f.Write(chunk);
            }

            f.Flush(true);
        }

        // Read it once so both sides run from the page cache.
        using SafeFileHandle h = File.OpenHandle(path);
        for (long off = 0; off < FileSize; off += chunk.Length)
        {
            RandomAccess.Read(h, chunk, off);
        }
    }

    /// <summary>Sector offsets of the run (same sequence for device and baseline).</summary>
    private static long[] Offsets(int blockSize, bool random, int count)
    {
        var rng = new Random(7);
        long blocks = FileSize / blockSize;
        return [.. Enumerable.Range(0, count).Select(i => (random ? rng.NextInt64(blocks) : i % blocks) * blockSize)];
    }

    private static Row Block(string path, string name, int blockSize, bool random, double target)
    {
        long[] offsets = Offsets(blockSize, random, 1 << 20);
        (double device, double limit) = Interleaved(() => DeviceReadRate(path, blockSize, offsets, null), () => PreadRate(path, blockSize, offsets));
        return Ratio(name, device, limit, "req/s", target);
    }

    /// <summary>
    /// This host is shared and noisy: alternate device and limit runs several times and keep each side's best,
    /// so a burst of outside load does not land on one side only.
    /// </summary>
    private static (double Device, double Limit) Interleaved(Func<double> device, Func<double> limit)
    {
        device();
        limit(); // warm-up (JIT, page cache)
        double bestDevice = 0, bestLimit = 0;
        for (int round = 0; round < Rounds; round++)
        {
            bestLimit = Math.Max(bestLimit, limit());
            bestDevice = Math.Max(bestDevice, device());
        }

        return (bestDevice, bestLimit);
    }

    /// <summary>
    /// The limit: pread(2) of the same offsets. Destinations rotate over as many buffers as the device run has
    /// requests in flight (<see cref="Batch"/>), so both write the same amount of distinct memory.
    /// </summary>
    private static double PreadRate(string path, int blockSize, long[] offsets)
    {
        using SafeFileHandle h = File.OpenHandle(path);
        byte[] buffers = GC.AllocateArray<byte>(blockSize * Batch, pinned: true);
        long done = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < Duration)
        {
            for (int i = 0; i < Batch; i++)
            {
                FdIo.Pread(h, buffers.AsSpan(i * blockSize, blockSize), offsets[done++ % offsets.Length]);
            }
        }

        return done / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Runs reads through MmioTransport → VirtioBlock with batches of requests, as a guest driver would.</summary>
    private static double DeviceReadRate(string path, int blockSize, long[] offsets, RateLimiter? limiter, TimeSpan? duration = null)
    {
        TimeSpan runFor = duration ?? Duration;
        const ushort queueSize = 256;
        const int batch = Batch;
        var memory = new FakeGuestMemory(64UL << 20);
        using var device = new VirtioBlock("bench", DiskBackend.Open("bench", path, readOnly: true), limiter);
        var transport = new MmioTransport(device, memory, new CountingInterrupt());
        var driver = new VirtioMmioDriver(transport);
        var q = new VirtQueueBuilder(memory, new GuestAddress(0x1000), queueSize, new GuestAddress(1UL << 20), 32UL << 20);
        driver.Initialize(ulong.MaxValue, q);

        // Pre-build one batch of requests (header, data, status per slot); each round rewrites sectors and republishes.
        var headers = new GuestAddress[batch];
        var heads = new ushort[batch];
        // Page-aligned data buffers, as a Linux guest's bios are, laid out like the baseline's (one contiguous area).
        ulong dataArea = (q.Alloc(((ulong)blockSize * batch) + 4096).Value + 4095) & ~4095UL;
        for (int i = 0; i < batch; i++)
        {
            headers[i] = q.Alloc(16);
            GuestAddress data = new(dataArea + ((ulong)i * (ulong)blockSize));
            GuestAddress status = q.Alloc(1);
            heads[i] = q.AddChain(DriverBuffer.DeviceReads(headers[i], 16), DriverBuffer.DeviceWrites(data, (uint)blockSize), DriverBuffer.DeviceWrites(status, 1));
        }

        long done = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < runFor)
        {
            for (int i = 0; i < batch; i++)
            {
                memory.Write(headers[i], new VirtioBlkOutHdr { Type = BlockRequest.VIRTIO_BLK_T_IN, Sector = (ulong)offsets[(done + i) % offsets.Length] / 512 });
                q.Publish(heads[i]);
            }

            driver.Notify(0);
            int got = 0;
            while (got < batch)
            {
                if (q.TryTakeUsed(out _))
                {
                    got++;
                }
                else
                {
                    Thread.Yield(); // rate-limited runs complete on the timer thread
                }

                if (sw.Elapsed > runFor * 4)
                {
                    throw new InvalidOperationException("device stopped completing requests");
                }
            }

            done += batch;
        }

        return done / sw.Elapsed.TotalSeconds;
    }

    private static Row RateLimited(string path)
    {
        // 20 MiB/s: a 1 MiB bucket refilled every 50 ms, 64 KiB sequential reads through the device.
        const double configured = 20.0 * 1024 * 1024;
        var limiter = RateLimiter.FromConfig(new RateLimiterConfig { Bandwidth = new TokenBucketConfig { Size = 1 << 20, RefillTime = 50 } }, TimeProvider.System);
        double reqs = DeviceReadRate(path, 65536, Offsets(65536, false, 1 << 16), limiter, TimeSpan.FromSeconds(5));
        double measured = reqs * 65536;
        double accuracy = 1 - Math.Abs(measured - configured) / configured;
        return new Row("rate limiter 20 MiB/s (blk)", measured, configured, "B/s", measured / configured, 0.95, accuracy >= 0.95);
    }

    private static Row NetTx()
    {
        const int frameLength = 12 + 1514;
        string devName = $"kbd{Environment.ProcessId % 100000}", rawName = $"kbr{Environment.ProcessId % 100000}";
        Ip($"tuntap add {devName} mode tap");
        Ip($"tuntap add {rawName} mode tap");
        try
        {
            Ip($"link set {devName} up");
            Ip($"link set {rawName} up");
            byte[] frame = new byte[frameLength];
            byte[] eth = [0x02, 0, 0, 0, 0, 9, 0x06, 0, 0, 0, 0, 1, 0x88, 0xb5];
            eth.CopyTo(frame, 12);

            using Tap raw = Tap.Open(rawName);
            double RawRate()
            {
                long n = 0;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < Duration)
                {
                    for (int i = 0; i < 256; i++)
                    {
                        raw.Write(frame);
                        n++;
                    }
                }

                return n / sw.Elapsed.TotalSeconds;
            }

            using Tap tap = Tap.Open(devName);
            var memory = new FakeGuestMemory(16UL << 20);
            using var net = new VirtioNet("bench", tap);
            var transport = new MmioTransport(net, memory, new CountingInterrupt());
            var driver = new VirtioMmioDriver(transport);
            var rx = new VirtQueueBuilder(memory, new GuestAddress(0x1000), 256, new GuestAddress(1UL << 20), 4UL << 20);
            var tx = new VirtQueueBuilder(memory, new GuestAddress(0x8000), 256, new GuestAddress(8UL << 20), 4UL << 20);
            driver.Initialize(ulong.MaxValue, rx, tx);
            const int batch = 128;
            var heads = new ushort[batch];
            for (int i = 0; i < batch; i++)
            {
                GuestAddress hdr = tx.Alloc(12), body = tx.Alloc(1514);
                memory.Write(body, frame.AsSpan(12));
                heads[i] = tx.AddChain(DriverBuffer.DeviceReads(hdr, 12), DriverBuffer.DeviceReads(body, 1514));
            }

            double DeviceRate()
            {
                long n = 0;
                var sw = Stopwatch.StartNew();
                while (sw.Elapsed < Duration)
                {
                    foreach (ushort h in heads)
                    {
                        tx.Publish(h);
                    }

                    driver.Notify(VirtioNet.TxQueue);
                    n += tx.TakeAllUsed().Count;
                }

                return n / sw.Elapsed.TotalSeconds;
            }

            (double device, double limit) = Interleaved(DeviceRate, RawRate);
            return Ratio("net TX 1514B frames", device, limit, "frames/s", 0.8);
        }
        finally
        {
            Ip($"link del {devName}");
            Ip($"link del {rawName}");
        }
    }

    private static void Ip(string args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {args}: {p.StandardError.ReadToEnd()}");
        }
    }
}
