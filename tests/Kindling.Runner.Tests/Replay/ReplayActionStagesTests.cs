using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// JavaScript actions' pre: and post: scripts in GitHub's order, local actions missing from the workspace, and the
/// stdout workflow commands a step prints.
/// </summary>
public sealed class ReplayActionStagesTests
{
    /// <summary>The job's steps planned over the test actions (ReplayActionsTests' workspace and cache) with node in the image.</summary>
    private static ReplayJobPlan Plan(string steps) => ReplayActionsTests.Plan(steps, ReplayActionsTests.Inputs with { Image = ReplayDefaults.DebianImage });

    [Fact]
    public void Plan_CachedActionWithPreAndPost_PreFirstPostLastUnderTheirIfs()
    {
        ReplayJobPlan p = Plan("      - run: echo first\n      - uses: octo/tools/lifecycle@v1\n        with: {mode: deep}\n      - run: echo last\n");

        Assert.Equal(["Pre Run octo/tools/lifecycle@v1", "Run echo first", "Run octo/tools/lifecycle@v1", "Run echo last", "Post Run octo/tools/lifecycle@v1"],
            p.Steps.Select(s => s.Name));
        Assert.Equal([PlannedStepStage.Pre, PlannedStepStage.Main, PlannedStepStage.Main, PlannedStepStage.Main, PlannedStepStage.Post], p.Steps.Select(s => s.Stage));
        string dir = "/workspace/.kindling/actions/octo/tools/v1/lifecycle";
        Assert.Equal($"exec node '{dir}/setup.js'", p.Spec.Steps[0].Run);
        Assert.Equal(StepConditions.Success, p.Spec.Steps[0].If); // pre-if: runner.os == 'Linux' (no status function: success() && it)
        Assert.Equal(StepConditions.Failure, p.Spec.Steps[4].If); // post-if: failure()
        Assert.All(new[] { 0, 2, 4 }, i => Assert.Equal("deep", p.Spec.Steps[i].Env["INPUT_MODE"]));
        // the post step runs only where main ran: main leaves a marker, post looks for it
        string marker = p.Spec.Steps[2].Run.Split(" && ")[1].Replace(": > ", "", StringComparison.Ordinal);
        Assert.EndsWith($"exec node '{dir}/run.js'", p.Spec.Steps[2].Run, StringComparison.Ordinal);
        Assert.StartsWith($"if [ -e {marker} ]; then exec node '{dir}/teardown.js'; fi", p.Spec.Steps[4].Run, StringComparison.Ordinal);
        Assert.True(p.Steps[0].PartOfAction && p.Steps[4].PartOfAction); // kept as planned at step time, not replanned as the workflow step
        Assert.Empty(p.UnsupportedSteps);
        Assert.DoesNotContain(p.Warnings, w => w.Contains("not supported", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Plan_TwoActionsWithPost_PostsInReverseOrderWithTheirOwnMarkers()
    {
        ReplayJobPlan p = Plan("      - uses: octo/tools/lifecycle@v1\n      - uses: ./Actions/tidy\n");

        Assert.Equal(["Pre Run octo/tools/lifecycle@v1", "Run octo/tools/lifecycle@v1", "Run ./Actions/tidy", "Post Run ./Actions/tidy", "Post Run octo/tools/lifecycle@v1"],
            p.Steps.Select(s => s.Name));
        Assert.NotEqual(p.Spec.Steps[3].Run.Split(' ')[3], p.Spec.Steps[4].Run.Split(' ')[3]);
        Assert.Equal(StepConditions.Always, p.Spec.Steps[3].If); // post-if's default
    }

    [Fact]
    public void Plan_LocalActionWithPre_NoPreStepAsOnGitHub()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/tidy\n");

        Assert.Equal([PlannedStepStage.Main, PlannedStepStage.Post], p.Steps.Select(s => s.Stage));
        Assert.Contains(p.Steps[0].Notes, n => n.Contains("pre: (warm.js) does not run", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_CompositeUsingActionWithPostTwice_PostsAtJobEndReversedNotUnderTheCompositesIf()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/tidy-twice\n        if: github.event_name == 'push'\n      - run: echo after\n");

        Assert.Equal([PlannedStepStage.Main, PlannedStepStage.Main, PlannedStepStage.Main, PlannedStepStage.Post, PlannedStepStage.Post], p.Steps.Select(s => s.Stage));
        Assert.Equal("two", p.Spec.Steps[3].Env["INPUT_ROUND"]);
        Assert.Equal("one", p.Spec.Steps[4].Env["INPUT_ROUND"]);
        Assert.Equal(StepConditions.Always, p.Spec.Steps[3].If);
        Assert.NotEqual(p.Spec.Steps[3].Run, p.Spec.Steps[4].Run); // one marker each
    }

    [Fact]
    public void Plan_StepTimeReplanOfTheMainStep_SameMarkerAsBeforeBoot()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/tidy\n");
        PlannedStep again = p.Replan!(p.Job.Steps[0], Kindling.Runner.Replay.Expressions.ExprValue.Object([]), [], new Dictionary<string, string>()).Single(s => s.Stage == PlannedStepStage.Main);

        Assert.Equal(p.Spec.Steps[0].Run, again.Spec.Run);
        Assert.Equal(PlannedStepStage.Main, again.Stage);
    }

    [Fact]
    public void Plan_CachedCompositeAndJavaScript_KnowTheirRepositoryAndRef()
    {
        ReplayJobPlan p = Plan("      - uses: octo/tools/where@v1\n      - uses: octo/tools/lifecycle@v1\n      - uses: ./Actions/greet\n        with: {who: me}\n");

        Assert.Equal("echo \"octo/tools@v1\"", p.Spec.Steps[1].Run);
        Assert.Equal("octo/tools", p.Spec.Steps[2].Env["GITHUB_ACTION_REPOSITORY"]);
        Assert.Equal("v1", p.Spec.Steps[2].Env["GITHUB_ACTION_REF"]);
        Assert.DoesNotContain("octo", p.Spec.Steps[3].Run, StringComparison.Ordinal); // a local action has neither
    }

    [Fact]
    public void Plan_PreIfReadsTheActionsInputs()
    {
        Assert.Equal(StepConditions.Never, Plan("      - uses: octo/tools/gated@v1\n        with: {pre: 'false'}\n").Spec.Steps[0].If);
        Assert.Equal(StepConditions.Success, Plan("      - uses: octo/tools/gated@v1\n        with: {pre: 'true'}\n").Spec.Steps[0].If);
    }

    [Fact]
    public void Plan_LocalActionMissing_StepFailsWithGitHubsMessageWhenItRuns()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/none\n        if: failure()\n");

        PlannedStep s = Assert.Single(p.Steps);
        Assert.Equal(PlannedStepKind.Run, s.Kind);
        Assert.Equal(StepConditions.Failure, s.Spec.If);
        Assert.StartsWith("echo 'Can'\\''t find '\\''action.yml'\\''", s.Spec.Run, StringComparison.Ordinal); // quoted for sh
        Assert.Contains("Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '/workspace/Actions/none'", s.Spec.Run.Replace("'\\''", "'", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.EndsWith("exit 1", s.Spec.Run, StringComparison.Ordinal);
        Assert.Empty(p.UnsupportedSteps);
    }

    [Fact]
    public void Plan_RemoteCompositeUsingAnActionWithPre_ItsPreRunsFirstUnderPreIf()
    {
        ReplayJobPlan p = Plan("      - run: echo first\n      - uses: octo/tools/bundle@v1\n        if: false\n");

        Assert.Equal([PlannedStepStage.Pre, PlannedStepStage.Main, PlannedStepStage.Main, PlannedStepStage.Post], p.Steps.Select(s => s.Stage));
        Assert.EndsWith("exec node '/workspace/.kindling/actions/octo/tools/v1/lifecycle/setup.js'", p.Spec.Steps[0].Run, StringComparison.Ordinal);
        Assert.Equal("bundled", p.Spec.Steps[0].Env["INPUT_MODE"]);
        Assert.Equal(StepConditions.Success, p.Spec.Steps[0].If); // its pre-if alone, not the workflow step's if: false
        Assert.Equal(StepConditions.Never, p.Spec.Steps[2].If);
    }

    [Fact]
    public void Plan_LocalCompositeUsingAnActionWithPre_NoPreStep()
    {
        ReplayJobPlan p = Plan("      - uses: ./Actions/wrap-lifecycle\n");

        Assert.DoesNotContain(p.Steps, s => s.Stage == PlannedStepStage.Pre);
        Assert.Contains(p.Steps[0].Notes, n => n.Contains("its pre: (setup.js) does not run", StringComparison.Ordinal));
        Assert.Equal(PlannedStepStage.Post, p.Steps[^1].Stage);
    }

    [Theory]
    [InlineData("./Actions/broken", "needs exactly one of run: or uses:")]
    [InlineData("./Actions/stepless", "a composite action needs runs.steps")]
    public void Plan_InvalidAction_StepFailsWithTheReasonWhenItRunsWorkflowStillPlans(string uses, string reason)
    {
        ReplayJobPlan p = Plan($"      - run: echo before\n      - uses: {uses}\n");

        Assert.Equal(2, p.Steps.Count);
        Assert.Contains(reason, p.Spec.Steps[1].Run, StringComparison.Ordinal);
        Assert.EndsWith("exit 1", p.Spec.Steps[1].Run, StringComparison.Ordinal);
        Assert.Contains(p.Steps[1].Notes, n => n.Contains("its action.yml is invalid", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("echo \"::set-output name=x::1\"", "::set-output")]
    [InlineData("echo ::save-state name=pid::1; echo ::add-mask::hush", "::add-mask, ::save-state")]
    public void Plan_StepPrintsWorkflowCommands_NotedAndNotRefused(string run, string listed)
    {
        ReplayJobPlan p = Plan($"      - run: {run}\n");

        Assert.Contains(Assert.Single(p.Steps).Notes, n => n.Contains($"workflow command{(listed.Contains(',', StringComparison.Ordinal) ? "s" : "")} {listed} on standard output", StringComparison.Ordinal));
        Assert.DoesNotContain(p.Warnings, w => w.Contains("not supported", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Plan_SetEnvWithoutUnsecureCommands_WarnsThatGitHubFailsTheStep()
    {
        Assert.Contains(Plan("      - run: echo ::set-env name=a::b\n").Warnings, w => w.Contains("GitHub fails the step", StringComparison.Ordinal));
        Assert.DoesNotContain(Plan("      - run: echo ::add-path::/opt\n        env: {ACTIONS_ALLOW_UNSECURE_COMMANDS: 'true'}\n").Warnings,
            w => w.Contains("GitHub fails the step", StringComparison.Ordinal));
    }
}
