using Kindling.Benchmarks.Reporting;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// The memory suite: each VMM boots the <c>idle</c> guest (128 MiB; prints one line, then halts with interrupts
/// off), settles, and its /proc figures are read: RssAnon − guest RAM actually touched (the figure), and
/// RssAnon + RssShmem − touched (the .NET runtime keeps JIT'd code in a memfd double mapping for W^X, which
/// /proc counts as shmem though no other process maps it).
/// </summary>
internal static class MemoryBenchmarks
{
    private const int Rounds = 3;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private const long GuestBytes = (long)VmSubjects.GuestMemMib << 20;

    private sealed class Variant(string name, Func<ProcMemory> measure)
    {
        public string Name { get; } = name;
        public Func<ProcMemory> Measure { get; } = measure;
        public List<ProcMemory> Samples { get; } = [];
    }

    public static int Run(BenchReport report, string work)
    {
        string idle = VmSubjects.WriteConfig(work, "idle");
        string r2r = VmSubjects.ReadyToRun(selfContained: false);
        string r2rSc = VmSubjects.ReadyToRun(selfContained: true);
        List<Variant> variants =
        [
            new("kindling-vmm fd, no API", () => Measure(VmSubjects.Kindling(VmSubjects.FrameworkDependent, idle))),
            new("kindling-vmm fd, API socket", () => Measure(WithApi(VmSubjects.FrameworkDependent, idle, work))),
            new("kindling-vmm R2R, no API", () => Measure(VmSubjects.Kindling(r2r, idle))),
            new("kindling-vmm R2R, API socket", () => Measure(WithApi(r2r, idle, work))),
            new("kindling-vmm R2R self-contained, no API", () => Measure(VmSubjects.Kindling(r2rSc, idle))),
        ];
        if (VmSubjects.HasQemu)
        {
            variants.Add(new("qemu microvm (KVM)", () => Measure(VmSubjects.QemuMicrovm("idle"))));
        }

        JailBench? jail = JailBench.Create(work, report);
        if (jail is not null)
        {
            variants.Add(new("dotnet kindling-vmm.dll, un-jailed", () => Measure(jail.Unjailed("idle", VmSubjects.FrameworkDependentDll))));
            variants.Add(new("dotnet kindling-vmm.dll, jailed", () => Jailed(jail)));
        }

        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                foreach (Variant v in variants.ToList())
                {
                    try
                    {
                        v.Samples.Add(v.Measure());
                    }
                    catch (InvalidOperationException e)
                    {
                        // Printed as a failed row (with its target) below, not dropped.
                        report.Failed($"{v.Name}: RssAnon − guest touched", "MiB", Target(v.Name), $"round {round + 1}: {e.Message}");
                        variants.Remove(v);
                    }
                }
            }
        }
        finally
        {
            jail?.Dispose();
        }

        foreach (Variant v in variants)
        {
            static double Mib(long kb) => kb / 1024.0;
            double anon = Stats.Median([.. v.Samples.Select(s => Mib(s.AnonOverheadKb))]);
            double priv = Stats.Median([.. v.Samples.Select(s => Mib(s.PrivateOverheadKb))]);
            ProcMemory first = v.Samples[0];
            string? target = Target(v.Name);
            double limit = target == "<= 5 MiB" ? 5 : 8;
            report.Add(new BenchRow($"{v.Name}: RssAnon − guest touched", "MiB", anon)
            {
                Runs = v.Samples.Count,
                Target = target,
                Ok = target is null ? null : anon <= limit,
                Note = $"RssAnon {Mib(first.RssAnonKb):F1}, RssShmem {Mib(first.RssShmemKb):F1}, RssFile {Mib(first.RssFileKb):F1}, Private_Dirty {Mib(first.PrivateDirtyKb):F1}, guest touched {Mib(first.GuestTouchedKb):F2} MiB ({first.GuestMappings} mapping)",
            });
            report.Add(new BenchRow($"{v.Name}: RssAnon + RssShmem − guest touched", "MiB", priv) { Runs = v.Samples.Count });
        }

        Variant? qemu = variants.FirstOrDefault(v => v.Name.StartsWith("qemu", StringComparison.Ordinal));
        Variant? kindling = variants.FirstOrDefault();
        if (qemu is not null && kindling is not null && kindling != qemu)
        {
            double ratio = Stats.Median([.. kindling.Samples.Select(s => (double)s.AnonOverheadKb)]) / Stats.Median([.. qemu.Samples.Select(s => (double)s.AnonOverheadKb)]);
            report.Add(new BenchRow($"ratio {kindling.Name} / qemu (RssAnon − touched)", "x", ratio));
        }

        return 0;
    }

    /// <summary>The RssAnon target of a variant (kindling-vmm only).</summary>
    private static string? Target(string variant) => variant.StartsWith("kindling-vmm", StringComparison.Ordinal)
        ? (variant.EndsWith("no API", StringComparison.Ordinal) ? "<= 5 MiB" : "<= 8 MiB")
        : null;

    private static VmCommand WithApi(string executable, string config, string work) =>
        new(executable, ["--config-file", config, "--api-sock", Path.Combine(work, $"mem-{Guid.NewGuid():N}"[..12] + ".sock"), "--id", "bench-memory"]);

    /// <summary>Boots the idle guest, waits for its line and the settle time, reads /proc, stops the VM.</summary>
    private static ProcMemory Measure(VmCommand command)
    {
        using VmProcess vm = VmProcess.Start(command);
        vm.WaitForOutput(VmSubjects.IdleLine, Timeout);
        Thread.Sleep(Settle);
        ProcMemory m = ProcMemory.Read(vm.Id, GuestBytes);
        vm.Kill();
        if (command.Arguments.Contains("--api-sock"))
        {
            File.Delete(command.Arguments[command.Arguments.ToList().IndexOf("--api-sock") + 1]);
        }

        return m;
    }

    private static ProcMemory Jailed(JailBench jail)
    {
        (VmProcess vm, string id) = jail.StartJailed("idle", VmSubjects.FrameworkDependentDll);
        try
        {
            vm.WaitForOutput(VmSubjects.IdleLine, Timeout);
            Thread.Sleep(Settle);
            return ProcMemory.Read(JailBench.JailedPid(vm), GuestBytes);
        }
        finally
        {
            vm.Dispose();
            jail.Destroy(id);
        }
    }
}
