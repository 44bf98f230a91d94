using System.Diagnostics;
using Kindling.Benchmarks.Reporting;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The density suite: VMs created back to back (2 × cores in flight), each counted when its first serial byte
/// arrives inside the window, for 10 s per VMM in interleaved 2.5 s windows. Reports VMs/s per core, and the CPU
/// each VM cost (getrusage of the reaped VMMs), whose inverse is the CPU-bound capacity of one core, a figure the
/// other load on a shared machine does not move.
/// </summary>
internal static class DensityBenchmarks
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(2.5);
    private const int Windows = 4;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private sealed class Subject(string name, VmCommand command, int expectedExit)
    {
        public string Name { get; } = name;
        public VmCommand Command { get; } = command;
        public int ExpectedExit { get; } = expectedExit;
        public int Vms { get; set; }
        public int Started { get; set; }
        public double Seconds { get; set; }
        public double CpuMs { get; set; }
        public List<double> PerWindow { get; } = [];
        public int Failures { get; set; }
    }

    public static int Run(BenchReport report, string work)
    {
        string hello = VmSubjects.WriteConfig(work, "hello");
        string r2r = VmSubjects.ReadyToRun(selfContained: false);
        int cores = Environment.ProcessorCount;
        int inFlight = 2 * cores;
        List<Subject> subjects =
        [
            new("kindling-vmm fd", VmSubjects.Kindling(VmSubjects.FrameworkDependent, hello), 0),
            new("kindling-vmm R2R", VmSubjects.Kindling(r2r, hello), 0),
        ];
        if (VmSubjects.HasQemu)
        {
            subjects.Add(new("qemu microvm (KVM)", VmSubjects.QemuMicrovm("hello"), 1));
        }

        foreach (Subject s in subjects)
        {
            LaunchBenchmarks.Cold(s.Command, s.ExpectedExit); // warm the page cache
        }

        for (int w = 0; w < Windows; w++)
        {
            foreach (Subject s in w % 2 == 0 ? subjects : Enumerable.Reverse(subjects))
            {
                RunWindow(s, inFlight);
            }
        }

        Subject? qemu = subjects.FirstOrDefault(s => s.Name.StartsWith("qemu", StringComparison.Ordinal));
        foreach (Subject s in subjects)
        {
            double perCore = s.Vms / s.Seconds / cores;
            bool kindling = s != qemu;
            double? vsQemu = kindling && qemu is not null ? perCore / (qemu.Vms / qemu.Seconds / cores) : null;
            report.Add(new BenchRow($"{s.Name}: VMs to first byte per s per core", "VM/s/core", perCore)
            {
                Runs = s.Vms,
                Target = kindling ? ">= 5, >= 3x qemu" : null,
                Ok = kindling ? perCore >= 5 && (vsQemu is null || vsQemu >= 3) && s.Failures == 0 : s.Failures == 0 ? null : false,
                Failure = s.Failures > 0 ? $"{s.Failures} of {s.Started} runs failed (no first byte, or the wrong exit code)" : null,
                Note = $"{s.Vms} VMs in {s.Seconds:F1} s on {cores} cores, {inFlight} in flight; windows (VM/s/core): {string.Join(", ", s.PerWindow.Select(x => x.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)))}"
                       + (vsQemu is { } r ? $"; {r:F2}x qemu" : "") + (s.Failures > 0 ? $"; {s.Failures} failed runs" : ""),
            });
            double cpuPerVm = s.CpuMs / Math.Max(1, s.Started);
            report.Add(new BenchRow($"{s.Name}: CPU per VM (user+sys)", "ms", cpuPerVm) { Runs = s.Started, Note = $"CPU-bound capacity {1000 / cpuPerVm:F2} VM/s per core" });
        }

        return 0;
    }

    private static void RunWindow(Subject s, int inFlight)
    {
        int counted = 0, started = 0, failures = 0;
        double cpuBefore = ChildCpu.TotalMs();
        long begin = Stopwatch.GetTimestamp();
        long end = begin + (long)(Window.TotalSeconds * Stopwatch.Frequency);
        var workers = Enumerable.Range(0, inFlight).Select(_ => new Thread(() =>
        {
            while (Stopwatch.GetTimestamp() < end)
            {
                Interlocked.Increment(ref started);
                try
                {
                    using VmProcess vm = VmProcess.Start(s.Command);
                    vm.WaitFirstByteMs(Timeout);
                    if (Stopwatch.GetTimestamp() <= end)
                    {
                        Interlocked.Increment(ref counted);
                    }

                    if (vm.WaitExit(Timeout) != s.ExpectedExit)
                    {
                        Interlocked.Increment(ref failures);
                    }
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        }) { IsBackground = true }).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => t.Join());
        double seconds = Window.TotalSeconds;
        s.Vms += counted;
        s.Started += started;
        s.Failures += failures;
        s.Seconds += seconds;
        s.CpuMs += ChildCpu.TotalMs() - cpuBefore;
        s.PerWindow.Add(counted / seconds / Environment.ProcessorCount);
    }
}
