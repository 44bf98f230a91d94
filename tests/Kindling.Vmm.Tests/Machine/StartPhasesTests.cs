using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class StartPhasesTests
{
    [Fact]
    public void Mark_InOrder_ListsEachPhaseAndATotalCoveringThem()
    {
        var phases = new StartPhases();

        phases.Mark("kvm open+vm create");
        phases.Mark("guest memory");
        phases.AddAhead("vm create", TimeSpan.FromMilliseconds(1.5));

        Assert.Equal(["kvm open+vm create", "guest memory"], phases.Phases.Select(p => p.Phase));
        Assert.True(phases.Total >= phases.Phases[0].Took + phases.Phases[1].Took - TimeSpan.FromTicks(1));
        string line = phases.ToString();
        Assert.StartsWith("kvm open+vm create ", line, StringComparison.Ordinal);
        Assert.Contains("; total ", line, StringComparison.Ordinal);
        Assert.EndsWith("done ahead of InstanceStart: vm create 1.500 ms", line, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_NothingDoneAhead_SaysNone()
    {
        var phases = new StartPhases();
        phases.Mark("kvm open+vm create");

        Assert.EndsWith("done ahead of InstanceStart: none", phases.ToString(), StringComparison.Ordinal);
    }
}
