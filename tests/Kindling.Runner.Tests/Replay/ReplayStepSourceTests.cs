using Kindling.Runner.Jobs;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>Steps decided at step time: $GITHUB_ENV, step outputs and the job's status as they are when a step's turn comes.</summary>
public sealed class ReplayStepSourceTests
{
    private const string Head = "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n";

    private static ReplayStepSource Source(string steps) =>
        new(Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(Head + steps, "w.yml"), "j", ReplayCorpus.Inputs())));

    private static HostStepResult Ran(int n, int exit, string output = "", string env = "") => new(n, false, exit, new StepFiles(output, env, "", ""));

    private const string EnvSteps =
        "      - run: echo MODE=fast >> \"$GITHUB_ENV\"\n" +
        "      - name: Fast\n        if: env.MODE == 'fast'\n        run: echo fast\n" +
        "      - name: Slow\n        if: env.MODE != 'fast'\n        run: echo slow\n";

    [Fact]
    public void Next_GitHubEnvWrittenByStep0_DecidesTheIfOfLaterSteps()
    {
        ReplayStepSource source = Source(EnvSteps);
        Assert.Equal("always()", source.Next(0, [])!.If);
        HostStepResult[] done = [Ran(0, 0, env: "MODE=fast\n")];

        Assert.Equal("always()", source.Next(1, done)!.If);
        Assert.Equal("cancelled()", source.Next(2, [.. done, Ran(1, 0)])!.If);
    }

    [Fact]
    public void Next_NothingWrittenToGitHubEnv_TheOtherBranchRuns()
    {
        ReplayStepSource source = Source(EnvSteps);
        source.Next(0, []);

        Assert.Equal("cancelled()", source.Next(1, [Ran(0, 0)])!.If);
        Assert.Equal("always()", source.Next(2, [Ran(0, 0), new HostStepResult(1, true, null, StepFiles.None)])!.If);
    }

    [Fact]
    public void Next_StepOutput_InterpolatedIntoALaterRunAndName()
    {
        ReplayStepSource source = Source("      - id: setup\n        run: echo n=7 >> \"$GITHUB_OUTPUT\"\n" +
                                         "      - name: Use ${{ steps.setup.outputs.n }}\n        run: echo got ${{ steps.setup.outputs.n }} ${{ steps.setup.outcome }}\n");
        source.Next(0, []);

        StepSpec next = source.Next(1, [Ran(0, 0, output: "n=7\n")])!;

        Assert.Equal("echo got 7 success", next.Run);
        Assert.Equal("Use 7", next.Name);
    }

    [Fact]
    public void Next_AfterAFailure_SuccessStepsSkippedFailureStepsRun()
    {
        ReplayStepSource source = Source("      - run: exit 3\n      - run: echo after\n      - run: echo handle\n        if: failure()\n");
        source.Next(0, []);

        Assert.Equal("cancelled()", source.Next(1, [Ran(0, 3)])!.If);
        Assert.Equal("always()", source.Next(2, [Ran(0, 3), new HostStepResult(1, true, null, StepFiles.None)])!.If);
    }

    [Fact]
    public void Next_FailureUnderContinueOnError_JobNotFailedAndConclusionSuccess()
    {
        ReplayStepSource source = Source("      - id: t\n        run: exit 3\n        continue-on-error: true\n" +
                                         "      - run: echo ${{ steps.t.outcome }}/${{ steps.t.conclusion }}\n");
        source.Next(0, []);

        StepSpec next = source.Next(1, [Ran(0, 3)])!;

        Assert.Equal("always()", next.If);
        Assert.Equal("echo failure/success", next.Run);
    }

    [Fact]
    public void Next_ExpressionFailsAtStepTime_HostStepExceptionNamingTheStep()
    {
        ReplayStepSource source = Source("      - id: a\n        run: echo v=x >> \"$GITHUB_OUTPUT\"\n      - run: echo ${{ fromJSON(steps.a.outputs.v) }}\n");
        source.Next(0, []);

        var e = Assert.Throws<HostStepException>(() => source.Next(1, [Ran(0, 0, output: "v={not json\n")]));

        Assert.Contains("step 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_PastTheLastStep_Null() => Assert.Null(Source("      - run: echo one\n").Next(1, [Ran(0, 0)]));
}
