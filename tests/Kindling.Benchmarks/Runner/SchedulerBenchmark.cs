using System.Diagnostics;
using Kindling.Runner.Scheduling;

namespace Kindling.Benchmarks.Runner;

/// <summary>The fair-share decision alone (no JobStore): 1,000 queued jobs across 10 tenants, one scheduling round at a time.</summary>
public static class SchedulerBenchmark
{
    public static double JobsAdmittedPerSecond()
    {
        var tenants = Enumerable.Range(0, 10).ToDictionary(i => $"t{i}", i => new TenantShare($"t{i}", 1000, 1000, 1 << 30, 1 + i % 3));
        var scheduler = new FairShareScheduler(new HostCapacity(10_000, 1 << 30, 1), tenants);
        List<Demand> queue = [.. Enumerable.Range(0, 1000).Select(i => new Demand(i, $"t{i % 10}", 1, 256))];
        var sw = Stopwatch.StartNew();
        int admitted = 0;
        while (sw.Elapsed < TimeSpan.FromSeconds(2))
        {
            admitted += scheduler.Admit(queue, new Dictionary<string, Usage>()).Count;
        }

        return admitted / sw.Elapsed.TotalSeconds;
    }
}
