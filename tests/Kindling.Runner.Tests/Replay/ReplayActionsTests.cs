using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>uses: steps replay runs (composite, cached JavaScript actions) and those it refuses clearly (Docker).</summary>
public sealed class ReplayActionsTests
{
    internal static ReplayInputs Inputs => ReplayCorpus.Inputs() with
    {
        Source = ReplayCorpus.Source with { Root = ReplayCorpus.Directory },
        ActionCache = Path.Combine(ReplayCorpus.Directory, "Actions", "cache"),
    };

    internal static ReplayJobPlan Plan(string steps, ReplayInputs? inputs = null) => Assert.Single(ReplayPlanner.Plan(
        WorkflowParser.Parse("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n" + steps, "w.yml"), "j", inputs ?? Inputs));

    [Fact]
    public void Plan_LocalComposite_ItsStepsWithInputsDefaultsActionPathAndEnv()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/greet\n        if: github.event_name == 'push'\n        with: {who: '${{ github.actor }}'}\n        env: {MOOD: glad}\n      - run: echo after\n");

        Assert.Equal(3, p.Spec.Steps.Count);
        Assert.Equal("echo \"hello octocat! from /workspace/Actions/greet ($MOOD)\"", p.Spec.Steps[0].Run);
        Assert.Equal("glad", p.Spec.Steps[0].Env["MOOD"]);
        Assert.Equal("say it", p.Spec.Steps[0].Name);
        Assert.Equal("cancelled()", p.Spec.Steps[1].If); // the agent's one bit cannot tell a failure inside the action from one before it
        Assert.Contains(p.Warnings, w => w.Contains("a failure() inside the action does not run", StringComparison.Ordinal));
        Assert.Equal([1, 1, 2], p.Steps.Select(s => s.Number));
        Assert.All(p.Steps.Take(2), s => Assert.True(s.PartOfAction));
        Assert.Empty(p.UnsupportedSteps);
    }

    [Fact]
    public void Plan_CompositeStepFalseIf_AllItsStepsNever()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/greet\n        if: github.event_name == 'schedule'\n        with: {who: x}\n");
        Assert.Equal(["cancelled()", "cancelled()"], p.Spec.Steps.Select(s => s.If));
    }

    [Fact]
    public void Plan_CachedJavaScriptAction_NodeWithInputsAndStagedFiles()
    {
        ReplayJobPlan p = Plan("      - uses: octo/tools/js@v1\n        with: {level: debug, extra thing: yes}\n", Inputs with { Image = ReplayDefaults.DebianImage });

        StepSpecAssert(p, "exec node '/workspace/.kindling/actions/octo/tools/v1/js/dist/index.js'");
        Assert.Equal("debug", p.Spec.Steps[0].Env["INPUT_LEVEL"]);
        Assert.Equal("yes", p.Spec.Steps[0].Env["INPUT_EXTRA_THING"]);
        Assert.Equal((Path.Combine(ReplayCorpus.Directory, "Actions", "cache", "octo/tools/v1/js"), ".kindling/actions/octo/tools/v1/js"), p.Steps[0].StageAction);
    }

    private static void StepSpecAssert(ReplayJobPlan p, string run) => Assert.Equal(run, Assert.Single(p.Spec.Steps).Run);

    [Theory]
    [InlineData("./Actions/container", "Docker actions are not supported")]
    [InlineData("docker://alpine:3", "Docker actions are not supported")]
    [InlineData("octo/tools/js@v1", "needs node, which the minimal image lacks: pass --image debian")]
    [InlineData("octo/missing@v2", "not in the action cache")]
    public void Plan_ActionReplayCannotRun_UnsupportedWithReason(string uses, string reason)
    {
        PlannedStep s = Assert.Single(Plan($"      - uses: {uses}\n").UnsupportedSteps);
        Assert.Contains(reason, s.UnsupportedReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_RemoteActionWithoutCache_SaysHow() =>
        Assert.Contains("pass --action-cache DIR", Assert.Single(Plan("      - uses: octo/tools@v1\n", Inputs with { ActionCache = null }).UnsupportedSteps).UnsupportedReason,
            StringComparison.Ordinal);
}
