using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>ReplayPlanner cases where replay used to differ from GitHub (issue 22's list).</summary>
public sealed class ReplayPlannerParityTests
{
    private const string Head = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n";

    private static IReadOnlyList<ReplayJobPlan> Plan(string yaml, ReplayInputs? inputs = null) =>
        ReplayPlanner.Plan(WorkflowParser.Parse(yaml, "w.yml"), "j", inputs ?? ReplayCorpus.Inputs());

    [Fact]
    public void Plan_StepEnv_InItsOwnNameAndRun()
    {
        ReplayJobPlan p = Assert.Single(Plan(Head + "    env: {mascot: Mona}\n    steps:\n      - name: Hi ${{ env.mascot }}\n        run: echo ${{ env.mascot }}\n        env: {mascot: Octocat}\n      - run: echo ${{ env.mascot }}\n"));
        Assert.Equal("Hi Octocat", p.Spec.Steps[0].Name);
        Assert.Equal("echo Octocat", p.Spec.Steps[0].Run);
        Assert.Equal("echo Mona", p.Spec.Steps[1].Run);
    }

    private const string Dispatch =
        "on:\n  workflow_dispatch:\n    inputs:\n      flag: {type: boolean, default: false}\n      count: {type: number, default: 1}\n" +
        "jobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo flag=${{ inputs.flag == true }} count=${{ inputs.count > 2 }} raw=${{ github.event.inputs.flag }}\n";

    [Fact]
    public void Plan_BooleanInputFromEvent_ComparesAsBoolean()
    {
        var ev = Kindling.Runner.Replay.Expressions.ExprValue.FromJson(System.Text.Json.Nodes.JsonNode.Parse("""{"inputs":{"flag":"true","count":"3"}}"""));
        ReplayJobPlan p = Assert.Single(Plan(Dispatch, ReplayCorpus.Inputs() with { EventName = "workflow_dispatch", Event = ev }));
        Assert.Equal("echo flag=true count=true raw=true", p.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_InputFlag_OverridesDefaultTypedAndInEvent()
    {
        ReplayJobPlan byDefault = Assert.Single(Plan(Dispatch, ReplayCorpus.Inputs() with { EventName = "workflow_dispatch" }));
        Assert.Equal("echo flag=false count=false raw=false", byDefault.Spec.Steps[0].Run);
        ReplayJobPlan given = Assert.Single(Plan(Dispatch, ReplayCorpus.Inputs() with { EventName = "workflow_dispatch", Inputs = [new("flag", "true"), new("count", "5")] }));
        Assert.Equal("echo flag=true count=true raw=true", given.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_Strategy_ContextShowsFailFastAndMaxParallel()
    {
        var plans = Plan("on: push\njobs:\n  j:\n    runs-on: x\n    strategy:\n      fail-fast: false\n      max-parallel: 2\n      matrix:\n        v: [1, 2, 3]\n" +
                         "    steps:\n      - run: echo ${{ strategy.fail-fast }} ${{ strategy.max-parallel }} ${{ strategy.job-index }}/${{ strategy.job-total }}\n",
            ReplayCorpus.Inputs() with { MatrixFilters = [new("v", "3")] });
        ReplayJobPlan p = Assert.Single(plans);
        Assert.Equal("echo false 2 2/3", p.Spec.Steps[0].Run);
        Assert.False(p.FailFast);
        Assert.Equal(2, p.MaxParallel);
    }

    [Fact]
    public void Plan_StrategyDefaults_FailFastAndAllAtOnce()
    {
        var plans = Plan("on: push\njobs:\n  j:\n    runs-on: x\n    strategy:\n      matrix:\n        v: [1, 2, 3]\n    steps:\n      - run: echo ${{ strategy.fail-fast }} ${{ strategy.max-parallel }}\n");
        Assert.All(plans, p => Assert.Equal("echo true 3", p.Spec.Steps[0].Run));
    }

    [Fact]
    public void Plan_BadMaxParallel_NamesField() =>
        Assert.Contains("strategy.max-parallel must be a whole number of at least 1, not 'zero'",
            Assert.Throws<ReplayException>(() => Plan(Head + "    strategy:\n      max-parallel: zero\n    steps: [{run: x}]\n")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("windows-latest", "Windows", "")]
    [InlineData("windows-2022", "Windows", "shell: pwsh, ")]
    [InlineData("macos-14", "macOS", "shell: pwsh, ")]
    public void Plan_RunsOnOtherOsWithWindowsShellSteps_WarnsNotSupportedNamingSteps(string label, string os, string shell)
    {
        ReplayJobPlan p = Assert.Single(Plan($"on: push\njobs:\n  j:\n    runs-on: {label}\n    steps: [{{run: x, shell: bash}}, {{{shell}run: x}}]\n"));
        Assert.Contains(p.Warnings, w => w.StartsWith($"runs-on: {label} names a {os} runner, which is not supported: replay runs Linux microVMs only, and step 2 uses", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("macos-latest", "macOS", "")]
    [InlineData("windows-latest", "Windows", "shell: bash, ")]
    [InlineData("macOS-13", "macOS", "shell: sh, ")]
    public void Plan_RunsOnOtherOsWithPortableSteps_WarnsItRunsInLinuxAndNotUnsupported(string label, string os, string shell)
    {
        ReplayJobPlan p = Assert.Single(Plan($"on: push\njobs:\n  j:\n    runs-on: {label}\n    steps: [{{{shell}run: x}}]\n"));
        string w = Assert.Single(p.Warnings);
        Assert.StartsWith($"runs-on: {label} names a {os} runner: replay runs the job in a Linux microVM", w, StringComparison.Ordinal);
        Assert.DoesNotContain("not supported", w, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_RunsOnLinux_NoWarning() => Assert.Empty(Assert.Single(Plan(Head + "    steps: [{run: x}]\n")).Warnings);

    [Fact]
    public void Plan_MatrixListItemGivingList_Spliced()
    {
        var plans = Plan("on: push\njobs:\n  j:\n    runs-on: x\n    strategy:\n      matrix:\n        v: [a, '${{ fromJSON(''[\"b\",\"c\"]'') }}', d]\n    steps:\n      - run: echo ${{ matrix.v }}\n");
        Assert.Equal(["echo a", "echo b", "echo c", "echo d"], plans.Select(p => p.Spec.Steps[0].Run));
    }

    [Fact]
    public void Plan_MatrixFilterKeyJobLacks_IgnoredWithWarning()
    {
        ReplayJobPlan p = Assert.Single(Plan(Head + "    steps: [{run: x}]\n", ReplayCorpus.Inputs() with { MatrixFilters = [new("os", "ubuntu")] }));
        Assert.Contains("--matrix os:…: this job's matrix has no key 'os'; the filter is ignored for it", p.Warnings);
    }

    [Theory]
    [InlineData("${{ false }} || true", "success()")]
    [InlineData("${{ github.event_name }} == 'nope'", "success()")]
    [InlineData("${{ false }}", "cancelled()")]
    public void Plan_IfTemplateWithText_IsANonEmptyString(string condition, string expected) =>
        Assert.Equal(expected, Assert.Single(Plan(Head + $"    steps:\n      - run: x\n        if: \"{condition}\"\n")).Spec.Steps[0].If);

    [Fact]
    public void Plan_MatrixFromNeedsAheadOfThem_SaysARunExpandsIt() =>
        Assert.Contains("strategy.matrix comes from needs (prep): it is known once they have run",
            Assert.Throws<NeedsFirstException>(() => ReplayPlanner.Plan(WorkflowParser.Parse(
                "on: push\njobs:\n  prep:\n    runs-on: x\n    outputs: {m: x}\n    steps: [{run: x}]\n  j:\n    needs: prep\n    runs-on: x\n" +
                "    strategy:\n      matrix: ${{ fromJSON(needs.prep.outputs.m) }}\n    steps: [{run: x}]\n", "w.yml"), "j", ReplayCorpus.Inputs())).Message, StringComparison.Ordinal);

    [Fact]
    public void Plan_MatrixFromNeedsOnceKnown_Expanded()
    {
        var needs = WorkflowRun.NeedsContext([("prep", new JobSummary(JobResults.Success, [new("m", "{\"v\":[1,2]}")], 0))]);
        var plans = ReplayPlanner.Plan(WorkflowParser.Parse(
            "on: push\njobs:\n  prep:\n    runs-on: x\n    outputs: {m: x}\n    steps: [{run: x}]\n  j:\n    needs: prep\n    runs-on: x\n" +
            "    strategy:\n      matrix: ${{ fromJSON(needs.prep.outputs.m) }}\n    steps: [{run: 'echo ${{ matrix.v }}'}]\n", "w.yml"), "j", ReplayCorpus.Inputs() with { Needs = needs });
        Assert.Equal(["echo 1", "echo 2"], plans.Select(p => p.Spec.Steps[0].Run));
    }

    [Fact]
    public void Plan_StdoutWorkflowCommand_NotedOnTheStepNoWarning()
    {
        ReplayJobPlan p = Assert.Single(Plan(Head + "    steps:\n      - run: echo '::add-mask::hide me'\n"));
        Assert.Contains(Assert.Single(p.Steps).Notes, n => n.StartsWith("prints the workflow command ::add-mask on standard output", StringComparison.Ordinal));
        Assert.Empty(p.Warnings);
    }

    [Fact]
    public void Plan_MatrixInsertDirective_MergesTheMapping()
    {
        var plans = Plan("on: push\njobs:\n  j:\n    runs-on: x\n    strategy:\n      matrix:\n        a:\n          - env:\n              k1: v1\n              ${{ insert }}: ${{ fromJSON('{\"k2\":\"v2\"}') }}\n" +
                         "    steps:\n      - run: echo ${{ matrix.a.env.k1 }} ${{ matrix.a.env.k2 }}\n");
        Assert.Equal("echo v1 v2", Assert.Single(plans).Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_IfReadsEnvAfterGitHubEnvWrite_WarnsNotSupported()
    {
        ReplayJobPlan p = Assert.Single(Plan(Head + "    steps:\n      - run: echo X=1 >> $GITHUB_ENV\n      - run: exit 1\n        if: env.X != '1'\n"));
        Assert.Contains(p.Warnings, w => w.StartsWith("step 2 reads the env context, which step 1 changes through $GITHUB_ENV", StringComparison.Ordinal));
    }
}
