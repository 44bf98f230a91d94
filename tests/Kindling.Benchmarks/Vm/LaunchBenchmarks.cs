using System.Diagnostics;
using Kindling.Benchmarks.Reporting;

namespace Kindling.Benchmarks.Vm;

/// <summary>One launch: exec (or API request) → first serial byte, and the CPU the launch used (−1: not measured).</summary>
internal sealed record LaunchSample(double FirstByteMs, double CpuMs);

/// <summary>
/// The launch suite: process exec → first guest serial byte for kindling-vmm (framework-dependent and ReadyToRun)
/// and QEMU microvm (KVM, PVH entry) running the <c>hello</c> guest; a pre-spawned kindling-vmm (configured over the
/// API, runtime warm) from PUT /actions InstanceStart → first byte; the runtime's own floor (<c>--help</c>); and the
/// jail's cost (same dll and environment, jailed or not). All variants run interleaved, round by round.
/// </summary>
internal static class LaunchBenchmarks
{
    private const int Rounds = 20;
    private const int JailRounds = 10;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private sealed class Variant(string name, Func<LaunchSample> run, int rounds = Rounds, string what = "exec → first byte")
    {
        public string Name { get; } = name;
        public string What { get; } = what;
        public Func<LaunchSample> Run { get; } = run;
        public int Rounds { get; } = rounds;
        public List<double> FirstByte { get; } = [];
        public List<double> Cpu { get; } = [];
    }

    public static int Run(BenchReport report, string work)
    {
        string hello = VmSubjects.WriteConfig(work, "hello");
        string r2r = VmSubjects.ReadyToRun(selfContained: false);
        string r2rSc = VmSubjects.ReadyToRun(selfContained: true);
        string aot = VmSubjects.NativeAot().Executable;
        bool qemu = VmSubjects.HasQemu;
        const string instanceStart = "InstanceStart → first byte";
        var fd = new Variant("kindling-vmm cold, framework-dependent (JIT)", () => Cold(VmSubjects.Kindling(VmSubjects.FrameworkDependent, hello), 0));
        var rtr = new Variant("kindling-vmm cold, ReadyToRun framework-dependent", () => Cold(VmSubjects.Kindling(r2r, hello), 0));
        var rtrSc = new Variant("kindling-vmm cold, ReadyToRun self-contained", () => Cold(VmSubjects.Kindling(r2rSc, hello), 0));
        var nat = new Variant("kindling-vmm cold, NativeAOT", () => Cold(VmSubjects.Kindling(aot, hello), 0));
        var qm = new Variant("qemu microvm cold (KVM, PVH)", () => Cold(VmSubjects.QemuMicrovm("hello"), 1));
        var preFd = new Variant("kindling-vmm pre-spawned, framework-dependent", () => PreSpawned(VmSubjects.FrameworkDependent, work), what: instanceStart);
        var preR2r = new Variant("kindling-vmm pre-spawned, ReadyToRun", () => PreSpawned(r2r, work), what: instanceStart);
        var preAot = new Variant("kindling-vmm pre-spawned, NativeAOT", () => PreSpawned(aot, work), what: instanceStart);
        var warm = new Variant("in-process VM build+start, code warm (pre-spawned floor)", WarmBuild.Run, what: "build → first byte");
        var helpFd = new Variant("runtime floor: kindling-vmm --help, framework-dependent", () => Cold(new VmCommand(VmSubjects.FrameworkDependent, ["--help"]), 0));
        var helpR2r = new Variant("runtime floor: kindling-vmm --help, ReadyToRun", () => Cold(new VmCommand(r2r, ["--help"]), 0));
        var helpAot = new Variant("runtime floor: kindling-vmm --help, NativeAOT", () => Cold(new VmCommand(aot, ["--help"]), 0));
        List<Variant> variants = [fd, rtr, rtrSc, nat, preFd, preR2r, preAot, warm, helpFd, helpR2r, helpAot];
        if (qemu)
        {
            variants.Insert(2, qm);
        }
        else
        {
            report.Note($"{VmSubjects.Qemu} is not on PATH: no QEMU figures");
        }

        JailBench? jail = JailBench.Create(work, report);
        List<(Variant Plain, Variant Jailed)> jailPairs = [];
        if (jail is not null)
        {
            string r2rDll = Path.Combine(Path.GetDirectoryName(r2r)!, "kindling-vmm.dll");
            foreach ((string label, string dll) in new[] { ("JIT", VmSubjects.FrameworkDependentDll), ("ReadyToRun", r2rDll), ("NativeAOT", aot) })
            {
                string program = dll == aot ? "kindling-vmm" : "dotnet kindling-vmm.dll";
                var plain = new Variant($"{program} ({label}), un-jailed (jail's env)", () => Cold(jail.Unjailed("hello", dll), 0), JailRounds);
                var jailed = new Variant($"{program} ({label}), jailed", () => jail.RunJailed("hello", dll), JailRounds);
                variants.AddRange([plain, jailed]);
                jailPairs.Add((plain, jailed));
            }
        }

        // A variant that fails (warm-up or a measured round) leaves the rounds; its rows are still printed, as failed.
        Dictionary<Variant, string> failed = [];
        try
        {
            // Warm-up: page cache, and one publish/JIT of everything.
            foreach (Variant v in variants.ToList())
            {
                try
                {
                    v.Run();
                }
                catch (InvalidOperationException e)
                {
                    failed[v] = e.Message;
                    variants.Remove(v);
                }
            }

            for (int round = 0; round < Rounds; round++)
            {
                // Rotate the order each round so no variant always follows the same one.
                for (int k = 0; k < variants.Count; k++)
                {
                    Variant v = variants[(k + round) % variants.Count];
                    if (round % (Rounds / v.Rounds) != 0)
                    {
                        continue; // fewer rounds: spread evenly over the run, not bunched at its start
                    }

                    if (failed.ContainsKey(v))
                    {
                        continue;
                    }

                    LaunchSample s;
                    try
                    {
                        s = v.Run();
                    }
                    catch (InvalidOperationException e)
                    {
                        failed[v] = $"round {round + 1}: {e.Message}";
                        continue;
                    }

                    v.FirstByte.Add(s.FirstByteMs);
                    if (s.CpuMs >= 0)
                    {
                        v.Cpu.Add(s.CpuMs);
                    }
                }
            }
        }
        finally
        {
            jail?.Dispose();
        }

        foreach ((Variant v, string why) in failed)
        {
            report.Failed($"{v.Name}: {v.What}", "ms", null, why);
        }

        variants.RemoveAll(failed.ContainsKey);
        foreach (Variant v in variants)
        {
            report.Add(new BenchRow($"{v.Name}: {v.What}", "ms", Stats.Median(v.FirstByte)) { P90 = Stats.P90(v.FirstByte), Runs = v.FirstByte.Count });
        }

        foreach (Variant v in variants.Where(v => v.Cpu.Count > 0))
        {
            report.Add(new BenchRow($"{v.Name}: CPU (user+sys) per launch", "ms", Stats.Median(v.Cpu)) { P90 = Stats.P90(v.Cpu), Runs = v.Cpu.Count });
        }

        if (qemu)
        {
            foreach (Variant k in new[] { fd, rtr, rtrSc, nat }.Where(k => failed.ContainsKey(k) || failed.ContainsKey(qm)))
            {
                report.Failed($"ratio {k.Name} / qemu (medians)", "x", "<= 0.75x", failed.GetValueOrDefault(k) ?? $"qemu: {failed[qm]}");
            }
        }

        if (variants.Contains(qm))
        {
            foreach (Variant k in new[] { fd, rtr, rtrSc, nat }.Where(variants.Contains))
            {
                double ratio = Stats.Median(k.FirstByte) / Stats.Median(qm.FirstByte);
                double paired = Stats.Median([.. k.FirstByte.Zip(qm.FirstByte, (a, b) => a / b)]);
                report.Add(new BenchRow($"ratio {k.Name} / qemu (medians)", "x", ratio)
                {
                    Target = "<= 0.75x",
                    Ok = ratio <= 0.75,
                    Note = $"median of per-round ratios {paired:F2}x; CPU ratio {Stats.Median(k.Cpu) / Stats.Median(qm.Cpu):F2}x",
                });
            }
        }

        foreach (Variant p in new[] { preFd, preR2r, preAot }.Where(failed.ContainsKey))
        {
            report.Failed($"target {p.Name}", "ms", "<= 5 ms", failed[p]);
        }

        foreach (Variant p in new[] { preFd, preR2r, preAot }.Where(variants.Contains))
        {
            double m = Stats.Median(p.FirstByte);
            report.Add(new BenchRow($"target {p.Name}", "ms", m) { Target = "<= 5 ms", Ok = m <= 5 });
        }

        foreach ((Variant plain, Variant jailed) in jailPairs.Where(p => failed.ContainsKey(p.Plain) || failed.ContainsKey(p.Jailed)))
        {
            report.Failed($"jail cost: {jailed.Name} − un-jailed (medians)", "ms", $"<= {JailCostTargetMs(jailed)} ms", failed.GetValueOrDefault(jailed) ?? $"un-jailed: {failed[plain]}");
        }

        foreach ((Variant plain, Variant jailed) in jailPairs.Where(p => variants.Contains(p.Plain) && variants.Contains(p.Jailed)))
        {
            double cost = Stats.Median(jailed.FirstByte) - Stats.Median(plain.FirstByte);
            report.Add(new BenchRow($"jail cost: {jailed.Name} − un-jailed (medians)", "ms", cost) { Target = $"<= {JailCostTargetMs(jailed)} ms", Ok = cost <= JailCostTargetMs(jailed) });
        }

        StartPhaseBenchmarks.Run(report, aot, "NativeAOT", work);
        return 0;
    }

    /// <summary>The targets this suite measures by booting a guest, printed as SKIPPED with <paramref name="why"/> (no KVM).</summary>
    public static void Skip(BenchReport report, string why)
    {
        foreach (string build in (string[])["framework-dependent (JIT)", "ReadyToRun framework-dependent", "ReadyToRun self-contained", "NativeAOT"])
        {
            report.Skipped($"ratio kindling-vmm cold, {build} / qemu (medians)", "x", "<= 0.75x", why);
        }

        foreach (string build in (string[])["framework-dependent", "ReadyToRun", "NativeAOT"])
        {
            report.Skipped($"target kindling-vmm pre-spawned, {build}", "ms", "<= 5 ms", why);
        }

        report.Skipped("jail cost: kindling-vmm (NativeAOT), jailed − un-jailed (medians)", "ms", "<= 10 ms", why);
        StartPhaseBenchmarks.Skip(report, why);
    }

    /// <summary>The issue's ≤ 10 ms for the native build; the managed builds keep their 20 ms.</summary>
    private static int JailCostTargetMs(Variant jailed) => jailed.Name.Contains("NativeAOT", StringComparison.Ordinal) ? 10 : 20;

    /// <summary>Exec → first serial byte, then the run to its end (expected exit code), and its CPU time.</summary>
    internal static LaunchSample Cold(VmCommand command, int expectedExit)
    {
        double cpuBefore = ChildCpu.TotalMs();
        using VmProcess vm = VmProcess.Start(command);
        double ms = vm.WaitFirstByteMs(Timeout);
        int exit = vm.WaitExit(Timeout);
        if (exit != expectedExit)
        {
            throw vm.Failure($"exit {exit}, expected {expectedExit}");
        }

        return new LaunchSample(ms, ChildCpu.TotalMs() - cpuBefore);
    }

    /// <summary>
    /// kindling-vmm started with only --api-sock, configured over the API (boot-source, machine-config), left to
    /// settle; then PUT /actions InstanceStart → first serial byte.
    /// </summary>
    /// <param name="extraArgs">More kindling-vmm arguments (e.g. --log-level Debug for the start phases).</param>
    /// <param name="stderr">Given the VMM's stderr once it has exited.</param>
    internal static LaunchSample PreSpawned(string executable, string work, IReadOnlyList<string>? extraArgs = null, Action<string>? stderr = null)
    {
        string socket = Path.Combine(work, $"api-{Guid.NewGuid():N}.sock"[..24]);
        using VmProcess vm = VmProcess.Start(new VmCommand(executable, ["--api-sock", socket, "--id", "bench-prespawned", .. extraArgs ?? []]));
        try
        {
            VmmApiClient.WaitForSocket(socket, vm, Timeout);
            using var api = new VmmApiClient(socket);
            api.Put("/boot-source", $$"""{"kernel_image_path": "{{VmSubjects.Guest}}", "boot_args": "kindling.test=hello"}""");
            api.Put("/machine-config", $$"""{"vcpu_count": 1, "mem_size_mib": {{VmSubjects.GuestMemMib}}}""");
            api.Get("/machine-config");
            Thread.Sleep(300); // the runtime is warm and idle, as a pooled VMM waiting for work is
            long t0 = Stopwatch.GetTimestamp();
            api.Put("/actions", """{"action_type": "InstanceStart"}""");
            double ms = vm.WaitFirstByteMs(Timeout, t0);
            int exit = vm.WaitExit(Timeout);
            if (exit != 0)
            {
                throw vm.Failure($"exit {exit} after InstanceStart");
            }

            stderr?.Invoke(vm.Stderr);
            return new LaunchSample(ms, -1);
        }
        finally
        {
            File.Delete(socket);
        }
    }
}
