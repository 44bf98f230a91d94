using Kindling.Runner.Configuration;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;

namespace Kindling.Runner.Tests.Scheduling;

public sealed class FairShareSchedulerTests
{
    private static FairShareScheduler Make(HostCapacity host, params TenantShare[] tenants) =>
        new(host, tenants.ToDictionary(t => t.Name));

    private static IEnumerable<Demand> Queue(string tenant, int count, long firstId, int vcpus = 1, int mem = 512) =>
        Enumerable.Range(0, count).Select(i => new Demand(firstId + i, tenant, vcpus, mem));

    [Fact]
    public void Admit_TenantAtMaxVms_StopsThatTenantOnly()
    {
        var s = Make(new HostCapacity(64, 65536, 1), new("a", 2, 64, 65536, 1), new("b", 10, 64, 65536, 1));
        IReadOnlyList<Demand> got = s.Admit([.. Queue("a", 5, 1), .. Queue("b", 3, 100)], new Dictionary<string, Usage>());
        Assert.Equal(2, got.Count(d => d.Tenant == "a"));
        Assert.Equal(3, got.Count(d => d.Tenant == "b"));
    }

    [Fact]
    public void Admit_VcpuAndMemoryQuota_Enforced()
    {
        var s = Make(new HostCapacity(64, 65536, 1), new("a", 100, 4, 65536, 1), new("b", 100, 64, 1024, 1));
        IReadOnlyList<Demand> got = s.Admit([.. Queue("a", 5, 1, vcpus: 2), .. Queue("b", 5, 100, mem: 512)], new Dictionary<string, Usage>());
        Assert.Equal(2, got.Count(d => d.Tenant == "a"));
        Assert.Equal(2, got.Count(d => d.Tenant == "b"));
    }

    [Fact]
    public void Admit_HostFull_WeightedSplit()
    {
        // 12 vCPUs, weights 2:1 → 8 and 4 one-vCPU VMs.
        var s = Make(new HostCapacity(12, 1 << 20, 1), new("heavy", 100, 100, 1 << 20, 2), new("light", 100, 100, 1 << 20, 1));
        IReadOnlyList<Demand> got = s.Admit([.. Queue("light", 50, 1), .. Queue("heavy", 50, 1000)], new Dictionary<string, Usage>());
        Assert.Equal(12, got.Count);
        Assert.Equal(8, got.Count(d => d.Tenant == "heavy"));
        Assert.Equal(4, got.Count(d => d.Tenant == "light"));
    }

    [Theory]
    [InlineData("a", "b")]
    [InlineData("b", "a")]
    public void Admit_EqualSharesOneSlot_GoesToTheTenantAdmittedLeastRecently(string admittedLast, string expected)
    {
        // 7 slots, a and b run 3 each: the 7th breaks a tie. Queue order (a's jobs are older) must not decide it every
        // time, or a runs 4 to b's 3 for as long as both have work.
        var s = Make(new HostCapacity(7, 1 << 20, 1), new("a", 4, 100, 1 << 20, 1), new("b", 4, 100, 1 << 20, 1));
        var running = new Dictionary<string, Usage> { ["a"] = new(3, 3, 1536), ["b"] = new(3, 3, 1536) };
        var last = new Dictionary<string, long> { [admittedLast] = 2, [admittedLast == "a" ? "b" : "a"] = 1 };

        IReadOnlyList<Demand> got = s.Admit([.. Queue("a", 5, 1), .. Queue("b", 5, 100)], running, lastAdmitted: last);

        Assert.Equal(expected, Assert.Single(got).Tenant);
    }

    [Fact]
    public void Admit_ExistingUsage_FavoursIdleTenant()
    {
        var s = Make(new HostCapacity(4, 1 << 20, 1), new("busy", 100, 100, 1 << 20, 1), new("idle", 100, 100, 1 << 20, 1));
        var running = new Dictionary<string, Usage> { ["busy"] = new(2, 2, 1024) };
        IReadOnlyList<Demand> got = s.Admit([.. Queue("busy", 5, 1), .. Queue("idle", 5, 100)], running);
        Assert.Equal(2, got.Count);
        Assert.All(got, d => Assert.Equal("idle", d.Tenant));
    }

    [Fact]
    public void Admit_Oversubscription_AllowsMoreVcpusButNotMemory()
    {
        var s = Make(new HostCapacity(4, 4096, 2.0), new TenantShare("a", 100, 100, 1 << 20, 1));
        Assert.Equal(8, s.Admit(Queue("a", 20, 1, mem: 256), new Dictionary<string, Usage>()).Count);
        Assert.Equal(4, s.Admit(Queue("a", 20, 1, mem: 1024), new Dictionary<string, Usage>()).Count);
    }

    [Fact]
    public void Admit_PerTenantOrder_FifoPreserved()
    {
        var s = Make(new HostCapacity(3, 1 << 20, 1), new TenantShare("a", 100, 100, 1 << 20, 1));
        Assert.Equal([1L, 2, 3], s.Admit(Queue("a", 10, 1), new Dictionary<string, Usage>()).Select(d => d.JobId));
    }

    [Fact]
    public void Admit_BigHeadDoesNotFit_OtherTenantStillAdmitted()
    {
        var s = Make(new HostCapacity(4, 1 << 20, 1), new("big", 100, 100, 1 << 20, 1), new("small", 100, 100, 1 << 20, 1));
        IReadOnlyList<Demand> got = s.Admit([new Demand(1, "big", 8, 512), .. Queue("small", 2, 10)], new Dictionary<string, Usage>());
        Assert.Equal([10L, 11], got.Select(d => d.JobId));
    }

    [Fact]
    public void Match_AllLabelsOffered_PoolFound_CaseInsensitive()
    {
        PoolOptions pool = new() { Name = "default", Labels = ["self-hosted", "kindling", "linux", "x64"] };
        Assert.Same(pool, LabelMatcher.Match(["Self-Hosted", "kindling"], [pool]));
        Assert.Null(LabelMatcher.Match(["self-hosted", "gpu"], [pool]));
        Assert.Null(LabelMatcher.Match(["ubuntu-latest"], [pool]));
        Assert.Null(LabelMatcher.Match([], [pool]));
    }
}
