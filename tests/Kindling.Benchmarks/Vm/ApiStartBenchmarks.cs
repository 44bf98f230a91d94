using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Kindling.Benchmarks.Reporting;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The launch suite's part that needs no KVM: kindling-vmm started as the runner starts every VMM (only
/// <c>--api-sock</c>), from exec to its API answering <c>GET /</c>, for each build (JIT, ReadyToRun framework-dependent
/// and self-contained, NativeAOT), with the CPU that took and the idle VMM's memory (RssAnon: no guest RAM is
/// touched before InstanceStart, so all of it is the VMM's own). Firecracker answers in a few milliseconds; the
/// targets are the issue's: ≤ 50 ms to the API and ≤ 5 MiB RssAnon for the native build.
/// </summary>
internal static class ApiStartBenchmarks
{
    private const int Rounds = 20;
    private const double ApiTargetMs = 50;
    private const double RssTargetKib = 5 * 1024;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private sealed record Build(string Name, string Executable)
    {
        public List<double> Ms { get; } = [];
        public List<double> Cpu { get; } = [];
        public List<double> RssAnonKib { get; } = [];
    }

    public static int Run(BenchReport report, string work)
    {
        (string native, double? publishSeconds) = VmSubjects.NativeAot();
        if (publishSeconds is { } s)
        {
            report.Add(new BenchRow("NativeAOT publish of kindling-vmm (dotnet publish, wall)", "s", s) { Runs = 1 });
        }

        report.Add(new BenchRow("NativeAOT kindling-vmm: binary size", "MiB", new FileInfo(native).Length / 1048576.0) { Runs = 1 });
        Build[] builds =
        [
            new("framework-dependent (JIT)", VmSubjects.FrameworkDependent),
            new("ReadyToRun framework-dependent", VmSubjects.ReadyToRun(selfContained: false)),
            new("ReadyToRun self-contained", VmSubjects.ReadyToRun(selfContained: true)),
            new("NativeAOT", native),
        ];

        Dictionary<Build, string> failed = [];
        foreach (Build b in builds)
        {
            Measure(b, work, failed, record: false); // warm-up: page cache
        }

        for (int round = 0; round < Rounds; round++)
        {
            for (int k = 0; k < builds.Length; k++)
            {
                Measure(builds[(k + round) % builds.Length], work, failed, record: true);
            }
        }

        foreach (Build b in builds)
        {
            string name = $"kindling-vmm {b.Name}: exec → API answers GET /";
            bool isNative = b.Executable == native;
            if (failed.TryGetValue(b, out string? why))
            {
                report.Failed(name, "ms", isNative ? $"<= {ApiTargetMs} ms" : null, why);
                continue;
            }

            double median = Stats.Median(b.Ms);
            report.Add(new BenchRow(name, "ms", median)
            {
                P90 = Stats.P90(b.Ms),
                Runs = b.Ms.Count,
                Target = isNative ? $"<= {ApiTargetMs} ms" : null,
                Ok = isNative ? median <= ApiTargetMs : null,
            });
            report.Add(new BenchRow($"kindling-vmm {b.Name}: CPU (user+sys) to the API", "ms", Stats.Median(b.Cpu)) { P90 = Stats.P90(b.Cpu), Runs = b.Cpu.Count });
            double rss = Stats.Median(b.RssAnonKib);
            report.Add(new BenchRow($"kindling-vmm {b.Name}: RssAnon idle with API socket", "KiB", rss)
            {
                Runs = b.RssAnonKib.Count,
                Target = isNative ? $"<= {RssTargetKib} KiB" : null,
                Ok = isNative ? rss <= RssTargetKib : null,
            });
        }

        return 0;
    }

    private static void Measure(Build build, string work, Dictionary<Build, string> failed, bool record)
    {
        if (failed.ContainsKey(build))
        {
            return;
        }

        string socket = Path.Combine(work, $"api-{Guid.NewGuid():N}"[..16] + ".sock");
        double cpuBefore = ChildCpu.TotalMs();
        using VmProcess vm = VmProcess.Start(new VmCommand(build.Executable, ["--api-sock", socket, "--id", "bench-api"]));
        try
        {
            double ms = Stopwatch.GetElapsedTime(vm.StartTimestamp, FirstAnswer(socket, vm)).TotalMilliseconds;
            long rss = Kindling.Native.ProcFs.StatusKilobytes(vm.Id, "RssAnon") ?? throw vm.Failure("no RssAnon");
            vm.Kill();
            vm.WaitExit(Timeout);
            if (record)
            {
                build.Ms.Add(ms);
                build.Cpu.Add(ChildCpu.TotalMs() - cpuBefore);
                build.RssAnonKib.Add(rss);
            }
        }
        catch (InvalidOperationException e)
        {
            failed[build] = e.Message;
        }
        finally
        {
            File.Delete(socket);
        }
    }

    /// <summary>
    /// Waits until the socket accepts connections, then sends <c>GET /</c> as raw HTTP/1.1 (no HttpClient, whose own
    /// first use would be timed); returns the timestamp of the answer, which must be a 200.
    /// </summary>
    private static long FirstAnswer(string socket, VmProcess vm)
    {
        VmmApiClient.WaitForSocket(socket, vm, Timeout);
        using var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Connect(new UnixDomainSocketEndPoint(socket));
        s.Send("GET / HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"u8);
        byte[] buffer = new byte[4096];
        int n = s.Receive(buffer);
        long answered = Stopwatch.GetTimestamp();
        string head = Encoding.ASCII.GetString(buffer, 0, n);
        return head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) ? answered : throw vm.Failure($"GET / answered '{head.Split('\r')[0]}'");
    }
}
