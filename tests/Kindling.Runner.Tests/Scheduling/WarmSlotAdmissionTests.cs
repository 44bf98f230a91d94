using Kindling.Runner.Scheduling;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>Admission with warm slots: a slot holds its VM's share of the host; a job that takes one is not counted twice.</summary>
public sealed class WarmSlotAdmissionTests
{
    private static readonly FairShareScheduler Scheduler = new(new HostCapacity(3, 1 << 20, 1), new Dictionary<string, TenantShare> { ["a"] = new("a", 10, 10, 1 << 20, 1) });

    private static Demand[] Queue(int n) => [.. Enumerable.Range(1, n).Select(i => new Demand(i, "a", 1, 256, "default"))];

    [Fact]
    public void Admit_TwoReadySlotsOnAThreeVmHost_ThreeJobsTwoOfThemInTheSlots()
    {
        // The slots' two VMs are the host's usage already.
        IReadOnlyList<Demand> got = Scheduler.Admit(Queue(5), new Dictionary<string, Usage>(), new Usage(0, 2, 512), readySlots: new Dictionary<string, int> { ["default"] = 2 });

        Assert.Equal([1, 2, 3], got.Select(d => d.JobId));
    }

    [Fact]
    public void Admit_SlotsBeingMadeNoneReady_OnlyWhatFitsBesideThem()
    {
        IReadOnlyList<Demand> got = Scheduler.Admit(Queue(5), new Dictionary<string, Usage>(), new Usage(0, 2, 512), readySlots: new Dictionary<string, int> { ["default"] = 0 });

        Assert.Single(got);
    }

    [Fact]
    public void Admit_ReadySlotButTenantAtQuota_SlotsDoNotBypassTheQuota()
    {
        var s = new FairShareScheduler(new HostCapacity(8, 1 << 20, 1), new Dictionary<string, TenantShare> { ["a"] = new("a", 1, 10, 1 << 20, 1) });

        IReadOnlyList<Demand> got = s.Admit(Queue(3), new Dictionary<string, Usage> { ["a"] = new Usage(1, 1, 256) }, new Usage(1, 3, 768), readySlots: new Dictionary<string, int> { ["default"] = 2 });

        Assert.Empty(got);
    }

    [Fact]
    public void Admit_SlotsOfAnotherPool_NoCredit()
    {
        IReadOnlyList<Demand> got = Scheduler.Admit(Queue(5), new Dictionary<string, Usage>(), new Usage(0, 2, 512), readySlots: new Dictionary<string, int> { ["big"] = 2 });

        Assert.Single(got);
    }
}
