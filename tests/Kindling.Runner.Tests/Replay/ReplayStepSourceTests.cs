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

    private static StepSpec? Next(ReplayStepSource source, int n, IReadOnlyList<HostStepResult> done, bool cancelled = false) => source.Next(n, done, cancelled);

    private static HostStepResult Ran(int n, int exit, string output = "", string env = "") => new(n, false, exit, new StepFiles(output, env, "", ""));

    private const string EnvSteps =
        "      - run: echo MODE=fast >> \"$GITHUB_ENV\"\n" +
        "      - name: Fast\n        if: env.MODE == 'fast'\n        run: echo fast\n" +
        "      - name: Slow\n        if: env.MODE != 'fast'\n        run: echo slow\n";

    [Fact]
    public void Next_GitHubEnvWrittenByStep0_DecidesTheIfOfLaterSteps()
    {
        ReplayStepSource source = Source(EnvSteps);
        Assert.Equal("always()", Next(source, 0, [])!.If);
        HostStepResult[] done = [Ran(0, 0, env: "MODE=fast\n")];

        Assert.Equal("always()", Next(source, 1, done)!.If);
        Assert.Equal("cancelled()", Next(source, 2, [.. done, Ran(1, 0)])!.If);
    }

    [Fact]
    public void Next_NothingWrittenToGitHubEnv_TheOtherBranchRuns()
    {
        ReplayStepSource source = Source(EnvSteps);
        Next(source, 0, []);

        Assert.Equal("cancelled()", Next(source, 1, [Ran(0, 0)])!.If);
        Assert.Equal("always()", Next(source, 2, [Ran(0, 0), new HostStepResult(1, true, null, StepFiles.None)])!.If);
    }

    [Fact]
    public void Next_StepOutput_InterpolatedIntoALaterRunAndName()
    {
        ReplayStepSource source = Source("      - id: setup\n        run: echo n=7 >> \"$GITHUB_OUTPUT\"\n" +
                                         "      - name: Use ${{ steps.setup.outputs.n }}\n        run: echo got ${{ steps.setup.outputs.n }} ${{ steps.setup.outcome }}\n");
        Next(source, 0, []);

        StepSpec next = Next(source, 1, [Ran(0, 0, output: "n=7\n")])!;

        Assert.Equal("echo got 7 success", next.Run);
        Assert.Equal("Use 7", next.Name);
    }

    [Fact]
    public void Next_AfterAFailure_SuccessStepsSkippedFailureStepsRun()
    {
        ReplayStepSource source = Source("      - run: exit 3\n      - run: echo after\n      - run: echo handle\n        if: failure()\n");
        Next(source, 0, []);

        Assert.Equal("cancelled()", Next(source, 1, [Ran(0, 3)])!.If);
        Assert.Equal("always()", Next(source, 2, [Ran(0, 3), new HostStepResult(1, true, null, StepFiles.None)])!.If);
    }

    [Fact]
    public void Next_FailureUnderContinueOnError_JobNotFailedAndConclusionSuccess()
    {
        ReplayStepSource source = Source("      - id: t\n        run: exit 3\n        continue-on-error: true\n" +
                                         "      - run: echo ${{ steps.t.outcome }}/${{ steps.t.conclusion }}\n");
        Next(source, 0, []);

        StepSpec next = Next(source, 1, [Ran(0, 3)])!;

        Assert.Equal("always()", next.If);
        Assert.Equal("echo failure/success", next.Run);
    }

    [Fact]
    public void Next_ExpressionFailsAtStepTime_HostStepExceptionNamingTheStep()
    {
        ReplayStepSource source = Source("      - id: a\n        run: echo v=x >> \"$GITHUB_OUTPUT\"\n      - run: echo ${{ fromJSON(steps.a.outputs.v) }}\n");
        Next(source, 0, []);

        var e = Assert.Throws<HostStepException>(() => Next(source, 1, [Ran(0, 0, output: "v={not json\n")]));

        Assert.Contains("step 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_PastTheLastStep_Null() => Assert.Null(Next(Source("      - run: echo one\n"), 1, [Ran(0, 0)]));

    private const string CancelSteps =
        "      - id: long\n        run: sleep 60\n" +
        "      - name: Build\n        run: echo build\n" +
        "      - name: Report\n        if: cancelled()\n        run: echo was ${{ steps.long.outcome }}\n" +
        "      - name: Cleanup\n        if: always()\n        run: echo clean\n" +
        "      - name: On failure\n        if: failure()\n        run: echo failed\n" +
        "      - name: Not cancelled\n        if: ${{ !cancelled() }}\n        run: echo fine\n";

    [Fact]
    public void Next_JobCancelled_OnlyCancelledAndAlwaysStepsRunAndTheCancelledStepsOutcomeIsCancelled()
    {
        ReplayStepSource source = Source(CancelSteps);
        Next(source, 0, []);
        List<HostStepResult> done = [new(0, false, 143, StepFiles.None, FramingLine.EndedCancelled)];

        Assert.Equal("cancelled()", Next(source, 1, done, cancelled: true)!.If);
        done.Add(new HostStepResult(1, true, null, StepFiles.None));
        StepSpec report = Next(source, 2, done, cancelled: true)!;
        done.Add(Ran(2, 0));
        Assert.Equal("always()", report.If);
        Assert.Equal("echo was cancelled", report.Run);
        Assert.Equal("always()", Next(source, 3, done, cancelled: true)!.If);
        done.Add(Ran(3, 0));
        Assert.Equal("cancelled()", Next(source, 4, done, cancelled: true)!.If);
        done.Add(new HostStepResult(4, true, null, StepFiles.None));
        Assert.Equal("cancelled()", Next(source, 5, done, cancelled: true)!.If);
    }

    [Fact]
    public void Next_StepTimedOut_FailsTheJobSoFailureStepsRun()
    {
        ReplayStepSource source = Source("      - run: sleep 60\n        timeout-minutes: 1\n      - run: echo after\n      - run: echo handle\n        if: failure()\n");
        Next(source, 0, []);

        Assert.Equal("cancelled()", Next(source, 1, [new HostStepResult(0, false, 143, StepFiles.None, FramingLine.EndedTimedOut)])!.If);
        Assert.Equal("always()", Next(source, 2, [new HostStepResult(0, false, 143, StepFiles.None, FramingLine.EndedTimedOut), new HostStepResult(1, true, null, StepFiles.None)])!.If);
    }
}
