using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>Kindling:StepStopGrace reaches the guest: the job document's stop_grace_ms (the agent's TERM-to-KILL time).</summary>
public sealed class StepStopGraceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(null, "5000")]
    [InlineData("00:00:07.5", "7500")]
    public async Task Run_StepStopGraceSetting_InTheJobDocument(string? setting, string expected)
    {
        LocalForge forge = Specs.Local("acme");
        Dictionary<string, string?> config = RunnerHarness.LocalTenant(0, "acme");
        if (setting is not null)
        {
            config["Kindling:StepStopGrace"] = setting;
        }

        await using var h = new RunnerHarness(config, forge);
        string fid = forge.Submit(Specs.Steps("build", ("Say", "echo hi")), Specs.Labels);
        await h.RunAllAsync(Ct);

        Assert.Equal(JobState.Cleaned, h.Store.FindByForgeJob("local", fid)!.State);
        Assert.Equal(expected, h.Launcher.Requests.Single().Mmds[MmdsKeys.Kindling]![MmdsKeys.Root.Job]![MmdsKeys.Job.StopGraceMs]!.GetValue<string>());
    }
}
