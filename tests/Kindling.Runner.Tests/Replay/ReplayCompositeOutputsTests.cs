using Kindling.Runner.Jobs;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

/// <summary>A composite action's outputs, read from its own steps' outputs, in the steps context of later workflow steps at step time.</summary>
public sealed class ReplayCompositeOutputsTests
{
    private static HostStepResult Ran(int n, string output = "") => new(n, false, 0, new StepFiles(output, "", "", ""));

    private const string Steps =
        "      - uses: ./Actions/tally\n        id: t\n        with: {label: apples}\n" +
        "      - name: Report\n        if: steps.t.outputs.total == '7'\n        run: echo \"${{ steps.t.outputs.summary }}\"\n";

    [Fact]
    public void Next_CompositeStepsEnded_LaterStepSeesTheActionsOutputs()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Steps);
        Assert.Equal(3, plan.Steps.Count);
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);
        source.Next(1, [Ran(0, "total=7\n")], false);

        StepSpec report = source.Next(2, [Ran(0, "total=7\n"), Ran(1)], false)!;

        Assert.Equal("always()", report.If);
        Assert.Equal("echo \"apples=7 (success)\"", report.Run);
    }

    [Fact]
    public void Next_CompositeStepWroteNoOutput_OutputsEmptyAndTheIfFalse()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Steps);
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);
        source.Next(1, [Ran(0)], false);

        Assert.Equal("cancelled()", source.Next(2, [Ran(0), Ran(1)], false)!.If);
    }
}
