using System.Diagnostics;
using Kindling.Testing;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>
/// What the jail costs: time from "launch" to the process reporting READY, and its RssAnon at that point, jailed
/// (JailLauncher.Start: chroot, cgroup, namespaces, pivot_root, uid drop, seccomp) versus un-jailed (the same
/// kindling-vmm.dll, same environment, no jail). Median of 10 interleaved runs each.
/// </summary>
[Collection(JailCollection.Name)]
public sealed class JailStartupCostTests : IDisposable
{
    private const int Runs = 10;
    private readonly JailTestHost _host = new();

    public void Dispose() => _host.Dispose();

    [RootFact]
    public async Task Start_Jailed_AddsAtMost20MsAnd1MiBOverUnjailed()
    {
        JailTestHost.RequireWiredCli();
        List<double> jailedMs = [], plainMs = [];
        List<long> jailedKb = [], plainKb = [];
        // One warm-up of each so the page cache holds the runtime for both.
        await Unjailed();
        await Jailed();
        for (int i = 0; i < Runs; i++)
        {
            (double ms, long kb) = await Unjailed();
            plainMs.Add(ms);
            plainKb.Add(kb);
            (ms, kb) = await Jailed();
            jailedMs.Add(ms);
            jailedKb.Add(kb);
        }

        // The host-side share of the jail: building the chroot, devices and cgroup.
        List<double> prepareMs = [];
        for (int i = 0; i < Runs; i++)
        {
            string id = _host.NewId();
            long start = Stopwatch.GetTimestamp();
            JailLauncher.Prepare(_host.Spec(id, JailDebugAction.Ready));
            prepareMs.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            JailTeardown.Destroy(id, _host.ChrootBase);
        }

        double timeDelta = Median(jailedMs) - Median(plainMs);
        double rssDelta = Median(jailedKb.Select(k => (double)k)) - Median(plainKb.Select(k => (double)k));
        string summary = $"startup to READY, median of {Runs}: un-jailed {Median(plainMs):F1} ms, jailed {Median(jailedMs):F1} ms (+{timeDelta:F1} ms, of which host-side prepare {Median(prepareMs):F1} ms); " +
            $"RssAnon: un-jailed {Median(plainKb.Select(k => (double)k)):F0} kB, jailed {Median(jailedKb.Select(k => (double)k)):F0} kB (+{rssDelta:F0} kB)";
        TestContext.Current.TestOutputHelper?.WriteLine(summary);
        Console.WriteLine(summary);
        // The 20 ms / 1 MiB budget is a performance target: reported here and in the closing notes, not asserted
        // (a timed assertion fails on a loaded machine and proves nothing on an idle one). What is asserted: every
        // launch, jailed or not, reached READY and reported its memory.
        Assert.Equal(Runs, jailedMs.Count);
        Assert.Equal(Runs, plainMs.Count);
        Assert.All(jailedKb, kb => Assert.True(kb > 0, summary));
    }

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private async Task<(double Ms, long Kb)> Jailed()
    {
        string id = _host.NewId();
        long start = Stopwatch.GetTimestamp();
        // No CPU quota here: the comparison is of the jail's mechanics, not of a CPU limit.
        JailSpec spec = _host.Spec(id, JailDebugAction.Ready) with { Limits = new JailCgroupLimits { MemoryBytes = 512L << 20, PidsMax = 64 } };
        using Process jail = JailLauncher.Start(spec, redirectStandardStreams: true);
        Assert.Equal("READY", await JailTestHost.ReadLineAsync(jail));
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long kb = ProcessInfo.StatusKilobytes(JailTestHost.JailedChild(jail.Id), "RssAnon") ?? throw new InvalidOperationException("no RssAnon");
        jail.StandardInput.Close();
        Assert.Equal(0, await JailTestHost.WaitExitAsync(jail));
        Assert.Empty(JailTeardown.Destroy(id, _host.ChrootBase).Leftovers);
        return (ms, kb);
    }

    private static async Task<(double Ms, long Kb)> Unjailed()
    {
        ProcessStartInfo info = new(JailLauncher.DotnetPath(new JailSpec { Id = "x", Uid = 0, Gid = 0 }))
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.ArgumentList.Add(JailTestHost.AppPath);
        info.ArgumentList.Add("jail-debug");
        info.ArgumentList.Add(nameof(JailDebugAction.Ready));
        info.Environment.Clear();
        foreach (string variable in JailLauncher.JailEnvironment)
        {
            info.Environment[variable[..variable.IndexOf('=', StringComparison.Ordinal)]] = variable[(variable.IndexOf('=', StringComparison.Ordinal) + 1)..];
        }

        long start = Stopwatch.GetTimestamp();
        using Process plain = Process.Start(info)!;
        Assert.Equal("READY", await JailTestHost.ReadLineAsync(plain));
        double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        long kb = ProcessInfo.StatusKilobytes(plain.Id, "RssAnon") ?? throw new InvalidOperationException("no RssAnon");
        plain.StandardInput.Close();
        Assert.Equal(0, await JailTestHost.WaitExitAsync(plain));
        return (ms, kb);
    }
}
