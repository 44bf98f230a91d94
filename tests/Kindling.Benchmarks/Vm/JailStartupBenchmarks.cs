using System.Diagnostics;
using Kindling.Benchmarks.Reporting;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// What the jail costs at start-up, without KVM: time from launch to the process reporting READY
/// (<c>kindling-vmm jail-debug Ready</c>) and its RssAnon at that point, jailed (chroot, cgroup, namespaces,
/// pivot_root, uid drop, seccomp) versus un-jailed (same dll, same dotnet host, the jail's environment). Median of
/// interleaved runs; targets: at most 20 ms (10 ms for the NativeAOT build, which binds nothing) and 1 MiB more
/// than un-jailed. The same pair for the NativeAOT build (its chroot copy versus the binary itself). Needs root.
/// </summary>
internal static class JailStartupBenchmarks
{
    private const int Runs = 10;
    private const uint Uid = 40123;
    private const uint Gid = 40124;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static int Run(BenchReport report, string work)
    {
        string? why = HostFacts.RootUnavailableReason
            ?? (File.Exists(JailLauncher.UnsharePath) ? null : $"{JailLauncher.UnsharePath} is missing")
            ?? (File.Exists(VmSubjects.FrameworkDependentDll) ? null : $"{VmSubjects.FrameworkDependentDll} is missing");
        if (why is not null)
        {
            Console.WriteLine($"jail: skipped ({why})");
            return 0;
        }

        int rc = Run(report, work, VmSubjects.FrameworkDependentDll, "", 20);
        string native = VmSubjects.NativeAot().Executable;
        return Math.Max(rc, Run(report, work, native, "NativeAOT ", 10));
    }

    /// <summary>One build's pair: <paramref name="app"/> (kindling-vmm.dll or a native kindling-vmm), rows named with <paramref name="label"/>.</summary>
    private static int Run(BenchReport report, string work, string app, string label, double targetMs)
    {
        string chroots = Directory.CreateDirectory(Path.Combine(work, "jails")).FullName;
        string kernel = Path.Combine(work, "vmlinux.bin");
        File.WriteAllText(kernel, "not a kernel");
        List<double> jailedMs = [], plainMs = [], prepareMs = [];
        List<double> jailedKb = [], plainKb = [];
        try
        {
            // One warm-up of each so the page cache holds the runtime for both.
            Unjailed(app);
            Jailed(chroots, kernel, app);
            for (int i = 0; i < Runs; i++)
            {
                (double ms, long kb) = Unjailed(app);
                plainMs.Add(ms);
                plainKb.Add(kb);
                (ms, kb) = Jailed(chroots, kernel, app);
                jailedMs.Add(ms);
                jailedKb.Add(kb);
                // The host-side share of the jail: building the chroot, devices and cgroup.
                string id = NewId();
                long start = Stopwatch.GetTimestamp();
                JailLauncher.Prepare(Spec(id, chroots, kernel, app));
                prepareMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                JailTeardown.Destroy(id, chroots);
            }
        }
        catch (InvalidOperationException e)
        {
            report.Failed($"{label}jail cost at start-up: jailed − un-jailed, to READY (medians)", "ms", $"<= {targetMs} ms", e.Message);
            report.Failed($"{label}jail cost at start-up: jailed − un-jailed, RssAnon (medians)", "KiB", "<= 1024 KiB", e.Message);
            return 1;
        }
        finally
        {
            JailTree.Remove(chroots);
        }

        report.Add(new BenchRow($"{label}un-jailed: launch → READY", "ms", Stats.Median(plainMs)) { P90 = Stats.P90(plainMs), Runs = Runs });
        report.Add(new BenchRow($"{label}jailed: launch → READY", "ms", Stats.Median(jailedMs)) { P90 = Stats.P90(jailedMs), Runs = Runs });
        report.Add(new BenchRow($"{label}jailed: host-side prepare (chroot, devices, cgroup)", "ms", Stats.Median(prepareMs)) { P90 = Stats.P90(prepareMs), Runs = Runs });
        double time = Stats.Median(jailedMs) - Stats.Median(plainMs);
        double rss = Stats.Median(jailedKb) - Stats.Median(plainKb);
        report.Add(new BenchRow($"{label}jail cost at start-up: jailed − un-jailed, to READY (medians)", "ms", time) { Target = $"<= {targetMs} ms", Ok = time <= targetMs });
        report.Add(new BenchRow($"{label}jail cost at start-up: jailed − un-jailed, RssAnon (medians)", "KiB", rss)
        {
            Target = "<= 1024 KiB", Ok = rss <= 1024,
            Note = $"RssAnon un-jailed {Stats.Median(plainKb):F0} KiB, jailed {Stats.Median(jailedKb):F0} KiB",
        });
        return 0;
    }

    private static string NewId() => "bench-" + Guid.NewGuid().ToString("N")[..10];

    private static JailSpec Spec(string id, string chroots, string kernel, string app) => new()
    {
        Id = id,
        Uid = Uid,
        Gid = Gid,
        ChrootBase = chroots,
        RequireKvm = false,
        AppPath = app,
        Resources = [new JailResource(kernel, "/vmlinux")],
        // No CPU quota: the comparison is of the jail's mechanics, not of a CPU limit.
        Limits = new JailCgroupLimits { MemoryBytes = 512L << 20, PidsMax = 64 },
        RlimitNoFile = 1024,
        RlimitFsize = 1L << 30,
        DebugAction = JailDebugAction.Ready,
    };

    private static (double Ms, long Kb) Jailed(string chroots, string kernel, string app)
    {
        string id = NewId();
        long start = Stopwatch.GetTimestamp();
        using Process jail = JailLauncher.Start(Spec(id, chroots, kernel, app), redirectStandardStreams: true);
        try
        {
            ExpectReady(jail);
            double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            string children = File.ReadAllText($"/proc/{jail.Id}/task/{jail.Id}/children").Trim();
            int pid = int.Parse(children.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
            long kb = ProcFs.StatusKilobytes(pid, "RssAnon") ?? throw new InvalidOperationException("the jailed process has no RssAnon");
            jail.StandardInput.Close();
            ExpectExitZero(jail, "jailed");
            return (ms, kb);
        }
        finally
        {
            JailTeardown.Destroy(id, chroots);
        }
    }

    private static (double Ms, long Kb) Unjailed(string app)
    {
        // The same build outside the jail: the native binary itself, or dotnet and the dll.
        IReadOnlyList<string> command = JailRuntime.For(app, dotnetPath: null).Command;
        ProcessStartInfo info = new(command[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in command.Skip(1))
        {
            info.ArgumentList.Add(arg);
        }

        info.ArgumentList.Add("jail-debug");
        info.ArgumentList.Add(nameof(JailDebugAction.Ready));
        info.Environment.Clear();
        foreach (string variable in JailLauncher.JailEnvironment)
        {
            int eq = variable.IndexOf('=', StringComparison.Ordinal);
            info.Environment[variable[..eq]] = variable[(eq + 1)..];
        }

        long start = Stopwatch.GetTimestamp();
        using Process plain = Process.Start(info)!;
        ExpectReady(plain);
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long kb = ProcFs.StatusKilobytes(plain.Id, "RssAnon") ?? throw new InvalidOperationException("the un-jailed process has no RssAnon");
        plain.StandardInput.Close();
        ExpectExitZero(plain, "un-jailed");
        return (ms, kb);
    }

    private static void ExpectReady(Process p)
    {
        Task<string?> line = p.StandardOutput.ReadLineAsync();
        if (!line.Wait(Timeout) || line.Result != "READY")
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"expected READY, got '{(line.IsCompleted ? line.Result : "nothing")}'; stderr: {p.StandardError.ReadToEnd()}");
        }
    }

    private static void ExpectExitZero(Process p, string what)
    {
        if (!p.WaitForExit(Timeout) || p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} process did not exit 0");
        }
    }
}
