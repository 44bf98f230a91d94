using Kindling.Runner.Jobs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

public sealed class ReplayPlannerTests
{
    private static IReadOnlyList<ReplayJobPlan> Plan(string yaml, string job, ReplayInputs? inputs = null) =>
        ReplayPlanner.Plan(WorkflowParser.Parse(yaml, "w.yml"), job, inputs ?? ReplayCorpus.Inputs());

    private static ReplayJobPlan One(string yaml, string job = "j", ReplayInputs? inputs = null) => Assert.Single(Plan(yaml, job, inputs));

    private const string Head = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n";

    [Fact]
    public void Plan_UnknownJob_ListsJobs() =>
        Assert.Equal("node-ci.yml has no job 'build'; its jobs are: test",
            Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(ReplayCorpus.Load("node-ci.yml"), "build", ReplayCorpus.Inputs())).Message);

    [Fact]
    public void Plan_EnvLevels_StepOverridesJobOverridesWorkflowOverridesEnvFile()
    {
        const string yaml = "on: push\nenv: {A: wf, B: wf, C: wf}\njobs:\n  j:\n    runs-on: x\n    env: {B: job, C: job}\n    steps:\n      - run: echo\n        env: {C: step}\n";
        ReplayJobPlan p = One(yaml, inputs: ReplayCorpus.Inputs() with { EnvFile = [new("A", "file"), new("Z", "file")] });
        Assert.Equal("wf", p.Spec.Env["A"]);
        Assert.Equal("job", p.Spec.Env["B"]);
        Assert.Equal("job", p.Spec.Env["C"]);
        Assert.Equal("file", p.Spec.Env["Z"]);
        Assert.Equal("step", p.Spec.Steps[0].Env["C"]);
        Assert.Equal("/workspace", p.Spec.Env["GITHUB_WORKSPACE"]);
        Assert.Equal("octo-org/app", p.Spec.Env["GITHUB_REPOSITORY"]);
    }

    [Fact]
    public void Plan_EnvContext_SeesOuterLevels()
    {
        const string yaml = "on: push\nenv: {A: one}\njobs:\n  j:\n    runs-on: x\n    env: {B: '${{ env.A }}-two'}\n    steps:\n      - run: echo ${{ env.B }}\n        env: {C: '${{ env.B }}-three'}\n";
        ReplayJobPlan p = One(yaml);
        Assert.Equal("one-two", p.Spec.Env["B"]);
        Assert.Equal("one-two-three", p.Spec.Steps[0].Env["C"]);
        Assert.Equal("echo one-two", p.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_Defaults_StepThenJobThenWorkflow()
    {
        ReplayJobPlan p = One(File.ReadAllText(Path.Combine(ReplayCorpus.Workflows, "go-build.yml")), "build");
        Assert.Equal(["", "bash", "bash", "bash", "sh"], p.Spec.Steps.Select(s => s.Shell == "sh" && s.Run.StartsWith("echo '", StringComparison.Ordinal) ? "" : s.Shell));
        Assert.Equal("./cmd/server", p.Spec.Steps[1].WorkingDirectory);
        Assert.Equal("/workspace", p.Spec.Steps[2].WorkingDirectory);
    }

    [Theory]
    [InlineData(null, "success()")]
    [InlineData("always()", "always()")]
    [InlineData("failure()", "failure()")]
    [InlineData("cancelled()", "cancelled()")]
    [InlineData("${{ !cancelled() }}", "always()")]
    [InlineData("github.ref == 'refs/heads/main'", "success()")]
    [InlineData("github.ref == 'refs/heads/dev'", "cancelled()")]
    [InlineData("failure() || github.event_name == 'push'", "always()")]
    [InlineData("failure() && github.event_name == 'push'", "failure()")]
    [InlineData("always() && github.event_name == 'schedule'", "cancelled()")]
    [InlineData("success() || failure()", "always()")]
    [InlineData("!success()", "failure()")]
    public void Plan_If_ReducedToAgentCondition(string? condition, string expected)
    {
        string step = condition is null ? "      - run: x\n" : $"      - run: x\n        if: \"{condition}\"\n";
        Assert.Equal(expected, One(Head + "    steps:\n" + step).Spec.Steps[0].If);
    }

    [Fact]
    public void Plan_JobIfFalse_SkipReason()
    {
        ReplayJobPlan p = One("on: push\njobs:\n  j:\n    runs-on: x\n    if: github.event_name == 'pull_request'\n    steps: [{run: x}]\n");
        Assert.Equal("its if: (github.event_name == 'pull_request') is false", p.SkipReason);
    }

    [Fact]
    public void Plan_TimeoutMinutes_JobTimeoutAndTheRunStepsOwn()
    {
        ReplayJobPlan p = One(Head + "    timeout-minutes: 15\n    steps:\n      - run: x\n        timeout-minutes: 5\n");
        Assert.Equal(TimeSpan.FromMinutes(15), p.Spec.Timeout);
        Assert.Equal(TimeSpan.FromMinutes(5), p.Spec.Steps[0].Timeout);
        Assert.DoesNotContain(p.Warnings, w => w.Contains("timeout-minutes", StringComparison.Ordinal));
        Assert.Equal(TimeSpan.FromMinutes(360), One(Head + "    steps: [{run: x}]\n").Spec.Timeout);
    }

    [Fact]
    public void Plan_BadTimeout_Error() =>
        Assert.Contains("timeout-minutes: 'soon' is not a positive number of minutes",
            Assert.Throws<ReplayException>(() => One(Head + "    timeout-minutes: soon\n    steps: [{run: x}]\n")).Message, StringComparison.Ordinal);

    [Fact]
    public void Plan_ContinueOnErrorExpression_FromMatrix()
    {
        var plans = Plan(Head.Replace("ubuntu-latest", "x", StringComparison.Ordinal) +
                         "    strategy:\n      matrix:\n        exp: [true, false]\n    steps:\n      - run: x\n        continue-on-error: ${{ matrix.exp }}\n", "j");
        Assert.Equal([true, false], plans.Select(p => p.Spec.Steps[0].ContinueOnError));
    }

    [Fact]
    public void Plan_MatrixContexts_NameLabelsAndStrategy()
    {
        var plans = Plan("on: push\njobs:\n  j:\n    runs-on: ${{ matrix.os }}\n    strategy:\n      matrix:\n        os: [a, b]\n    steps:\n      - run: echo ${{ strategy.job-index }}/${{ strategy.job-total }}\n", "j");
        Assert.Equal(["j (a)", "j (b)"], plans.Select(p => p.DisplayName));
        Assert.Equal([["a"], ["b"]], plans.Select(p => p.Labels));
        Assert.Equal(["echo 0/2", "echo 1/2"], plans.Select(p => p.Spec.Steps[0].Run));
        Assert.Equal("a", plans[0].Spec.Origin!.Matrix["os"]);
    }

    [Fact]
    public void Plan_MatrixFilter_Act()
    {
        var plans = ReplayPlanner.Plan(ReplayCorpus.Load("node-ci.yml"), "test", ReplayCorpus.Inputs() with { MatrixFilters = [new("node", "18")] });
        Assert.Equal(["test (node 18, ubuntu-latest)", "test (node 18, ubuntu-22.04)"], plans.Select(p => p.DisplayName));
    }

    [Fact]
    public void Plan_MatrixFromExpression_Evaluated()
    {
        ReplayJobPlan p = Assert.Single(Plan(Head + "    strategy:\n      matrix: ${{ fromJSON('{\"v\":[\"x\"]}') }}\n    steps:\n      - run: echo ${{ matrix.v }}\n", "j"));
        Assert.Equal("echo x", p.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_EmptyMatrix_ClearError() =>
        Assert.Contains("the matrix expands to no combinations",
            Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(WorkflowParser.ParseFile(Path.Combine(ReplayCorpus.Invalid, "empty-matrix.yml"), "empty-matrix.yml"), "test", ReplayCorpus.Inputs())).Message,
            StringComparison.Ordinal);

    [Fact]
    public void Plan_SecretInEnv_GuestSecretRecipeNotInSpec()
    {
        ReplayJobPlan p = One(Head + "    env:\n      AUTH: Bearer ${{ secrets.TOKEN }}\n    steps: [{run: x}]\n", inputs: ReplayCorpus.Inputs(("TOKEN", "s3cr3t-value")));
        Assert.False(p.Spec.Env.ContainsKey("AUTH"));
        Assert.Equal([SecretPart.FromText("Bearer "), SecretPart.FromSecret("TOKEN")], p.Spec.SecretRefs["AUTH"]);
        Assert.Equal(["AUTH"], p.SecretEnv);
        Assert.DoesNotContain("s3cr3t-value", p.Spec.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_SecretInRun_PlaceholderNamingTheGuestSecret()
    {
        ReplayJobPlan p = One(Head + "    steps:\n      - run: |\n          curl -H \"token: ${{ secrets.TOKEN }}\"\n", inputs: ReplayCorpus.Inputs(("TOKEN", "s3cr3t-value")));
        Assert.Equal("curl -H \"token: %%kindling-secret:TOKEN%%\"\n", p.Spec.Steps[0].Run);
        Assert.Equal([SecretPart.FromSecret("TOKEN")], p.Spec.SecretRefs["TOKEN"]);
        Assert.Empty(p.Warnings);
        Assert.DoesNotContain("s3cr3t-value", p.Spec.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_SecretNameTakenByPlainEnv_GeneratedName()
    {
        ReplayJobPlan p = One(Head + "    env: {TOKEN: plain}\n    steps:\n      - run: echo ${{ secrets.TOKEN }}\n", inputs: ReplayCorpus.Inputs(("TOKEN", "s3cr3t-value")));
        Assert.Equal("echo %%kindling-secret:KINDLING_SECRET_1%%", p.Spec.Steps[0].Run);
        Assert.Equal([SecretPart.FromSecret("TOKEN")], p.Spec.SecretRefs["KINDLING_SECRET_1"]);
    }

    [Theory]
    [InlineData("sh", "echo '${{ secrets.TOKEN }}' > key.json", "echo '%%kindling-secret:TOKEN%%' > key.json")]
    [InlineData("bash", "cat <<'EOF'\n${{ secrets.TOKEN }}\nEOF", "cat <<'EOF'\n%%kindling-secret:TOKEN%%\nEOF")]
    [InlineData("python", "print('${{ secrets.TOKEN }}')", "print('%%kindling-secret:TOKEN%%')")]
    [InlineData("pwsh", "Write-Output '${{ secrets.TOKEN }}'", "Write-Output '%%kindling-secret:TOKEN%%'")]
    public void Plan_SecretWhereNoVariableExpands_PlaceholderAndNoWarning(string shell, string run, string expected)
    {
        ReplayJobPlan p = One(Head + $"    steps:\n      - shell: {shell}\n        run: |\n          {run.Replace("\n", "\n          ", StringComparison.Ordinal)}\n",
            inputs: ReplayCorpus.Inputs(("TOKEN", "s3cr3t-value")));
        Assert.Equal(expected + "\n", p.Spec.Steps[0].Run);
        Assert.Empty(p.Warnings);
    }

    [Fact]
    public void Plan_DerivedSecretInRun_PlaceholderOfAGeneratedGuestSecret()
    {
        ReplayJobPlan p = One(Head + "    env:\n      AUTH: Bearer ${{ secrets.T }}\n    steps:\n      - run: echo '${{ env.AUTH }}' and '${{ secrets.T }}'\n", inputs: ReplayCorpus.Inputs(("T", "v")));
        Assert.Equal("echo '%%kindling-secret:KINDLING_SECRET_1%%' and '%%kindling-secret:T%%'", p.Spec.Steps[0].Run);
        Assert.Equal([SecretPart.FromText("Bearer "), SecretPart.FromSecret("T")], p.Spec.SecretRefs["KINDLING_SECRET_1"]);
    }

    [Theory]
    [InlineData("echo '%%kindling-secret:T%%'", "its text")]
    [InlineData("echo '${{ github.event.title }}'", "the value of ${{ github.event.title }}")]
    public void Plan_ScriptHoldingThePlaceholderText_RefusedNamingWhere(string run, string what)
    {
        var inputs = ReplayCorpus.Inputs(("T", "v")) with { Event = ExprValue.Object([new("title", ExprValue.String("x %%kindling-secret:T%% y"))]) };
        var e = Assert.Throws<ReplayException>(() => One(Head + $"    steps:\n      - run: \"{run}\"\n", inputs: inputs));
        Assert.Contains($"{what} holds '%%kindling-secret:'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_SecretComputedWithFunction_Error() =>
        Assert.Contains("computed from a secret",
            Assert.Throws<ReplayException>(() => One(Head + "    env:\n      X: ${{ format('a{0}', secrets.T) }}\n    steps: [{run: x}]\n", inputs: ReplayCorpus.Inputs(("T", "v")))).Message,
            StringComparison.Ordinal);

    [Fact]
    public void Plan_SecretEnvAlsoPlainInJob_Error() =>
        Assert.Contains("env X is set from a secret here but the job's env also sets X",
            Assert.Throws<ReplayException>(() => One(Head + "    env: {X: plain}\n    steps:\n      - run: x\n        env:\n          X: ${{ secrets.T }}\n", inputs: ReplayCorpus.Inputs(("T", "v")))).Message,
            StringComparison.Ordinal);

    [Fact]
    public void Plan_SecretReferencedNotGiven_Missing()
    {
        ReplayJobPlan p = ReplayPlanner.Plan(ReplayCorpus.Load("release.yml"), "publish", ReplayCorpus.Inputs(("NPM_TOKEN", "n"))).Single();
        Assert.Equal(["NPM_TOKEN", "SLACK_TOKEN"], p.RequiredSecrets);
        Assert.Equal(["SLACK_TOKEN"], p.MissingSecrets);
    }

    [Fact]
    public void Plan_SecretNamesIgnoreCase_GivenNameUsed()
    {
        ReplayJobPlan p = One(Head + "    steps:\n      - run: echo ${{ secrets.api_key }}\n", inputs: ReplayCorpus.Inputs(("API_KEY", "value-123")));
        Assert.Equal(["API_KEY"], p.RequiredSecrets);
        Assert.Empty(p.MissingSecrets);
        Assert.Equal("echo %%kindling-secret:API_KEY%%", p.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_ComputedSecretName_Error() =>
        Assert.Contains("secrets[…] with a computed name is not supported",
            Assert.Throws<ReplayException>(() => One(Head + "    steps:\n      - run: echo ${{ secrets[github.job] }}\n")).Message, StringComparison.Ordinal);

    [Fact]
    public void Plan_Uses_CheckoutSatisfiedOthersUnsupported()
    {
        ReplayJobPlan p = ReplayPlanner.Plan(ReplayCorpus.Load("node-ci.yml"), "test", ReplayCorpus.Inputs() with { MatrixFilters = [new("node", "23")] }).Single();
        Assert.Equal([PlannedStepKind.Checkout, PlannedStepKind.UnsupportedUses, PlannedStepKind.Run, PlannedStepKind.Run, PlannedStepKind.Run], p.Steps.Select(s => s.Kind));
        PlannedStep unsupported = Assert.Single(p.UnsupportedSteps);
        Assert.Equal("actions/setup-node@v4", unsupported.Uses);
        Assert.Contains("/workspace already holds the HEAD 8f14e45", p.Spec.Steps[0].Run, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_CheckoutWithPath_CopiesTheWorkspaceTreeUnderThePath()
    {
        ReplayJobPlan p = ReplayPlanner.Plan(ReplayCorpus.Load("monorepo.yml"), "docs", ReplayCorpus.Inputs()).Single();

        PlannedStep checkout = p.Steps[0];
        Assert.Equal(PlannedStepKind.Checkout, checkout.Kind);
        Assert.Equal((CheckoutStep.WorkspaceKey, (string?)null), checkout.CheckoutTree);
        Assert.Contains("cp -a \"$src/.\" \"$ws\"/'site'/", checkout.Spec.Run, StringComparison.Ordinal);
        Assert.Empty(p.Warnings);
    }

    [Fact]
    public void Plan_ContainerServices_Warnings()
    {
        ReplayJobPlan p = ReplayPlanner.Plan(ReplayCorpus.Load("monorepo.yml"), "build", ReplayCorpus.Inputs()).Single();
        Assert.Equal(2, p.Warnings.Count);
        Assert.StartsWith("container: node:20-bookworm is not pulled: the job runs in a microVM of the Kindling minimal image in its place", p.Warnings[0], StringComparison.Ordinal);
        Assert.StartsWith("services: postgres are not started", p.Warnings[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_ReusableWorkflow_NotSupportedMessage() =>
        Assert.Contains("calls the reusable workflow octo-org/shared/.github/workflows/build.yml@v2",
            Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(ReplayCorpus.Load("reusable-caller.yml"), "call", ReplayCorpus.Inputs())).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("cmd", "is a Windows shell")]
    [InlineData("pwsh -v '. {0}'", "shell 'pwsh -v '. {0}'' is not supported by replay yet")]
    [InlineData("perl -e \"$(cat {0})\"", "is not supported by replay yet")]
    public void Plan_UnsupportedShell_Error(string shell, string expected) =>
        Assert.Contains(expected, Assert.Throws<ReplayException>(() => One(Head + $"    steps:\n      - run: x\n        shell: {shell}\n")).Message, StringComparison.Ordinal);

    [Fact]
    public void Plan_DefaultShell_DependsOnImage()
    {
        const string yaml = Head + "    steps: [{run: x}]\n";
        Assert.Equal("sh", One(yaml).Spec.Steps[0].Shell);
        Assert.Equal("bash", One(yaml, inputs: ReplayCorpus.Inputs() with { Image = ReplayDefaults.DebianImage }).Spec.Steps[0].Shell);
    }

    [Fact]
    public void Plan_GitHubContextFromEvent_PullRequest()
    {
        ExprValue ev = ExprValue.FromJson(System.Text.Json.Nodes.JsonNode.Parse(
            """{"pull_request":{"number":7,"head":{"ref":"feature","sha":"abc"},"base":{"ref":"main"}},"repository":{"full_name":"o/r"},"sender":{"login":"mona"}}"""));
        ReplayJobPlan p = One(Head + "    steps: [{run: 'echo ${{ github.head_ref }} ${{ github.base_ref }} ${{ github.ref }} ${{ github.sha }} ${{ github.actor }} ${{ github.event.pull_request.number }}'}]\n",
            inputs: ReplayCorpus.Inputs() with { EventName = "pull_request", Event = ev });
        Assert.Equal("echo feature main refs/pull/7/merge abc mona 7", p.Spec.Steps[0].Run);
        Assert.Equal("o/r", p.Spec.Env["GITHUB_REPOSITORY"]);
        Assert.Equal("pull_request", p.Spec.Env["GITHUB_EVENT_NAME"]);
    }

    [Fact]
    public void Plan_Inputs_DefaultsThenEvent()
    {
        Workflow wf = ReplayCorpus.Load("dispatch.yml");
        ReplayJobPlan byDefault = ReplayPlanner.Plan(wf, "deploy", ReplayCorpus.Inputs() with { EventName = "workflow_dispatch" }).Single();
        Assert.Equal("staging", byDefault.Spec.Env["TARGET"]);
        ExprValue ev = ExprValue.FromJson(System.Text.Json.Nodes.JsonNode.Parse("""{"inputs":{"environment":"production","dry_run":false}}"""));
        ReplayJobPlan given = ReplayPlanner.Plan(wf, "deploy", ReplayCorpus.Inputs() with { EventName = "workflow_dispatch", Event = ev, Vars = [new("REGION", "us-east-2")] }).Single();
        Assert.Equal("production", given.Spec.Env["TARGET"]);
        Assert.Equal("us-east-2", given.Spec.Env["REGION"]);
        Assert.Equal("success()", given.Spec.Steps[1].If);
    }

    [Fact]
    public void Plan_StepsContext_EmptyBeforeBootTheStepIsDecidedWhenItRuns() =>
        Assert.Equal("cancelled()", One(Head + "    steps:\n      - run: x\n        if: steps.a.outcome == 'success'\n").Spec.Steps[0].If);

    [Fact]
    public void Plan_ExpressionError_NamesStepAndLine() =>
        Assert.StartsWith("bad-expression.yml: job 'check': step 1 (line 7): run: '${{ github.sha \"' opens ${{ without a closing }}",
            Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(
                WorkflowParser.ParseFile(Path.Combine(ReplayCorpus.Invalid, "bad-expression.yml"), "bad-expression.yml"), "check", ReplayCorpus.Inputs())).Message,
            StringComparison.Ordinal);
}
