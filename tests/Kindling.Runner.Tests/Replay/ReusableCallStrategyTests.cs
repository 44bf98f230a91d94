using System.Collections.Concurrent;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>A calling job's if:, strategy (matrix, fail-fast, max-parallel), needs and secrets, as GitHub runs a reusable workflow call.</summary>
public sealed class ReusableCallStrategyTests : IDisposable
{
    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-callstrategy-").FullName;

    public void Dispose() => Directory.Delete(_repo, recursive: true);

    private const string Callee = """
        on:
          workflow_call:
            inputs:
              target: {type: string, required: true}
            secrets:
              key: {required: false}
            outputs:
              built:
                value: ${{ jobs.make.outputs.file }}
        jobs:
          make:
            runs-on: ubuntu-latest
            outputs:
              file: ${{ steps.out.outputs.file }}
            steps:
              - id: out
                run: echo "file=${{ inputs.target }}.tgz" >> "$GITHUB_OUTPUT"
              - run: echo "key ${{ secrets.key }}"
          check:
            needs: make
            runs-on: ubuntu-latest
            steps:
              - run: echo check ${{ inputs.target }}
        """;

    private Workflow Write(string callerYaml)
    {
        Directory.CreateDirectory(Path.Combine(_repo, ".github", "workflows"));
        File.WriteAllText(Path.Combine(_repo, ".github", "workflows", "build.yml"), Callee);
        string path = Path.Combine(_repo, "main.yml");
        File.WriteAllText(path, callerYaml);
        return ReusableWorkflows.Expand(WorkflowParser.ParseFile(path, "main.yml"), _repo, actionCache: null);
    }

    private static string MatrixCaller(string strategy = "") => $$$"""
        on: push
        jobs:
          prep:
            runs-on: ubuntu-latest
            steps: [{run: echo prep}]
          build:
            needs: prep
            strategy:
              matrix:
                os: [linux, bsd, plan9]
        {{{strategy}}}
            uses: ./.github/workflows/build.yml
            with:
              target: ${{ matrix.os }}-${{ strategy.job-index }}
            secrets:
              key: literal-${{ matrix.os }}
          publish:
            needs: build
            runs-on: ubuntu-latest
            steps:
              - run: echo "publish ${{ needs.build.outputs.built }}"
        """;

    private static Func<ReplayJobPlan, CancellationToken, Task<JobOutcome>> Succeed(ConcurrentQueue<ReplayJobPlan> ran) => (p, _) =>
    {
        ran.Enqueue(p);
        return Task.FromResult(Success(p));
    };

    private static JobOutcome Success(ReplayJobPlan p) => new()
    {
        Result = JobResults.Success,
        Steps = p.Job.Steps.ToDictionary(s => s.Number, s => new StepOutcome(JobResults.Success, JobResults.Success,
            s.Id == "out" ? [new("file", p.Spec.Steps[0].Run.Split('=')[1].Split('"')[0])] : [])),
    };

    [Fact]
    public void Expand_MatrixCall_OneCallPerCombinationNamedWithItsValues()
    {
        Workflow wf = Write(MatrixCaller());

        Assert.Equal(
            ["prep", "build (linux)/make", "build (linux)/check", "build (bsd)/make", "build (bsd)/check", "build (plan9)/make", "build (plan9)/check", "build", "publish"],
            wf.Jobs.Select(j => j.Id));
        Assert.Equal(["prep"], wf.Jobs.Single(j => j.Id == "build (bsd)/make").Needs);
        Assert.Equal(["build (bsd)/make"], wf.Jobs.Single(j => j.Id == "build (bsd)/check").Needs);
    }

    [Fact]
    public void Plan_MatrixCall_WithReadsMatrixAndStrategy()
    {
        Workflow wf = Write(MatrixCaller());

        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(wf, "build (bsd)/make", ReplayCorpus.Inputs()));

        Assert.Equal("echo \"file=bsd-1.tgz\" >> \"$GITHUB_OUTPUT\"", plan.Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_SecretMappedToLiteral_PassedAsSecretNotInTheSpec()
    {
        Workflow wf = Write(MatrixCaller());

        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(wf, "build (plan9)/make", ReplayCorpus.Inputs()));

        Assert.DoesNotContain("literal-plan9", plan.Spec.Steps[1].Run, StringComparison.Ordinal);
        Assert.DoesNotContain(plan.Spec.Env.Values, v => v.Contains("literal-plan9", StringComparison.Ordinal));
        Assert.Contains(plan.Spec.SecretRefs.Values, parts => parts.Count == 1 && parts[0].Text == "literal-plan9");
    }

    [Fact]
    public async Task RunAsync_MatrixCall_EveryCallRunsAndLastNonEmptyOutputReachesNeeds()
    {
        Workflow wf = Write(MatrixCaller());
        var ran = new ConcurrentQueue<ReplayJobPlan>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), Succeed(ran), 1, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("publish", CancellationToken.None);

        Assert.Equal(8, ran.Count);
        Assert.Equal(JobResults.Success, results["build"].Result);
        Assert.Equal([new("built", "plan9-2.tgz")], results["build"].Outputs);
        Assert.Equal("echo \"publish plan9-2.tgz\"", ran.Last().Spec.Steps[0].Run);
    }

    [Fact]
    public async Task RunAsync_MatrixCallMaxParallelOne_CallsDoNotOverlap()
    {
        Workflow wf = Write(MatrixCaller("      max-parallel: 1"));
        var order = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), async (p, _) =>
        {
            order.Enqueue("start " + p.Job.Id);
            await Task.Yield();
            order.Enqueue("end " + p.Job.Id);
            return Success(p);
        }, 8, _ => { });

        await run.RunAsync("build", CancellationToken.None);

        // Each call's two jobs end before the next call's first job starts.
        string[] calls = [.. order.Where(e => e.StartsWith("start build (", StringComparison.Ordinal)).Select(e => e[6..e.IndexOf('/', StringComparison.Ordinal)]).Distinct()];
        Assert.Equal(3, calls.Length);
        List<string> events = [.. order];
        for (int i = 1; i < calls.Length; i++)
        {
            int lastOfPrevious = events.FindLastIndex(e => e.StartsWith("end " + calls[i - 1] + "/", StringComparison.Ordinal));
            int firstOfThis = events.FindIndex(e => e.StartsWith("start " + calls[i] + "/", StringComparison.Ordinal));
            Assert.True(lastOfPrevious < firstOfThis, string.Join("\n", events));
        }
    }

    [Fact]
    public async Task RunAsync_MatrixCallFailFast_FailedCallCancelsItsSiblings()
    {
        Workflow wf = Write(MatrixCaller("      max-parallel: 1"));
        var ran = new ConcurrentQueue<string>();
        var lines = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p.Job.Id);
            return Task.FromResult(p.Job.Id.EndsWith("/make", StringComparison.Ordinal) ? new JobOutcome { Result = JobResults.Failure, ExitCode = 3 } : Success(p));
        }, 8, lines.Enqueue);

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("build", CancellationToken.None);

        // max-parallel 1: one call at a time; the first call's make fails and the two calls not started are cancelled.
        Assert.Equal(2, ran.Count);
        string failed = ran.Last();
        Assert.Equal(JobResults.Failure, results["build"].Result);
        Assert.Equal(2, results.Count(r => r.Key.EndsWith("/make", StringComparison.Ordinal) && r.Key != failed && r.Value.Result == JobResults.Cancelled));
        Assert.Contains(lines, l => l.Contains("fail-fast cancels the other calls of build's matrix", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_MatrixCallFailFastFalse_SiblingsStillRun()
    {
        Workflow wf = Write(MatrixCaller("      fail-fast: false\n      max-parallel: 1"));
        var ran = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p.Job.Id);
            return Task.FromResult(p.Job.Id == "build (linux)/make" ? new JobOutcome { Result = JobResults.Failure, ExitCode = 3 } : Success(p));
        }, 8, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("build", CancellationToken.None);

        Assert.Equal(6, ran.Count); // prep and five callee jobs: linux/check is skipped, its need failed
        Assert.Equal(JobResults.Success, results["build (bsd)/check"].Result);
        Assert.Equal(JobResults.Failure, results["build"].Result);
    }

    private const string IfCaller = """
        on: push
        jobs:
          prep:
            runs-on: ubuntu-latest
            outputs:
              go: ${{ steps.g.outputs.go }}
            steps: [{id: g, run: echo go}]
          build:
            needs: prep
            if: CONDITION
            uses: ./.github/workflows/build.yml
            with:
              target: x
          publish:
            needs: build
            if: always()
            runs-on: ubuntu-latest
            steps:
              - run: echo "publish ${{ needs.build.result }}"
        """;

    [Fact]
    public async Task RunAsync_CallerIfFalse_CalleeJobsSkippedCallSkipped()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "github.event_name == 'schedule'", StringComparison.Ordinal));
        var ran = new ConcurrentQueue<ReplayJobPlan>();
        var lines = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), Succeed(ran), 4, lines.Enqueue);

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("publish", CancellationToken.None);

        Assert.Equal(["prep", "publish"], ran.Select(p => p.Job.Id));
        Assert.Equal(JobResults.Skipped, results["build"].Result);
        Assert.Equal(JobResults.Skipped, results["build/check"].Result);
        Assert.Equal("echo \"publish skipped\"", ran.Last().Spec.Steps[0].Run);
        Assert.Contains(lines, l => l.Contains("the calling job build's if: (github.event_name == 'schedule') is false", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_CallerIfReadsNeedsOutputs_DecidedAfterNeeds()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "needs.prep.outputs.go == 'yes'", StringComparison.Ordinal));
        var ran = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p.Job.Id);
            return Task.FromResult(new JobOutcome
            {
                Result = JobResults.Success,
                Steps = p.Job.Steps.ToDictionary(s => s.Number, s => new StepOutcome(JobResults.Success, JobResults.Success, s.Id == "g" ? [new("go", "yes")] : [])),
            });
        }, 4, _ => { });

        await run.RunAsync("build", CancellationToken.None);

        Assert.Equal(["prep", "build/make", "build/check"], ran);
    }

    [Fact]
    public async Task RunAsync_CallerIfAlwaysAfterFailedNeed_CalleeRuns()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "always()", StringComparison.Ordinal));
        var ran = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p.Job.Id);
            return Task.FromResult(p.Job.Id == "prep" ? new JobOutcome { Result = JobResults.Failure, ExitCode = 1 } : new JobOutcome { Result = JobResults.Success });
        }, 4, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("build", CancellationToken.None);

        Assert.Equal(["prep", "build/make", "build/check"], ran);
        Assert.Equal(JobResults.Success, results["build"].Result);
    }

    [Fact]
    public async Task RunAsync_CallerWithoutIfAfterFailedNeed_CallSkipped()
    {
        Workflow wf = Write(IfCaller.Replace("    if: CONDITION\n", "", StringComparison.Ordinal));
        var ran = new ConcurrentQueue<string>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p.Job.Id);
            return Task.FromResult(new JobOutcome { Result = JobResults.Failure, ExitCode = 1 });
        }, 4, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("build", CancellationToken.None);

        Assert.Equal(["prep"], ran);
        Assert.Equal(JobResults.Skipped, results["build"].Result);
    }

    [Fact]
    public void Plan_WithReadsCallerNeedsOutputs_PlannedAheadWithAPlaceholder()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "always()", StringComparison.Ordinal).Replace("target: x", "target: v-${{ needs.prep.outputs.go }}", StringComparison.Ordinal));

        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(wf, "build/make", ReplayCorpus.Inputs()));

        Assert.Equal("echo \"file=v-<needs.prep.outputs.go>.tgz\" >> \"$GITHUB_OUTPUT\"", plan.Spec.Steps[0].Run);
    }

    [Fact]
    public async Task RunAsync_WithReadsCallerNeedsOutputs_EveryCalleeJobGetsTheValue()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "always()", StringComparison.Ordinal).Replace("target: x", "target: v-${{ needs.prep.outputs.go }}", StringComparison.Ordinal));
        var ran = new ConcurrentQueue<ReplayJobPlan>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) =>
        {
            ran.Enqueue(p);
            return Task.FromResult(new JobOutcome
            {
                Result = JobResults.Success,
                Steps = p.Job.Steps.ToDictionary(s => s.Number, s => new StepOutcome(JobResults.Success, JobResults.Success, s.Id == "g" ? [new("go", "yes")] : [])),
            });
        }, 4, _ => { });

        await run.RunAsync("build", CancellationToken.None);

        Assert.Equal("echo \"file=v-yes.tgz\" >> \"$GITHUB_OUTPUT\"", ran.Single(p => p.Job.Id == "build/make").Spec.Steps[0].Run);
        Assert.Equal("echo check v-yes", ran.Single(p => p.Job.Id == "build/check").Spec.Steps[0].Run);
    }

    [Fact]
    public void Plan_DryRunCallerIfFalse_CalleeJobPlannedAsSkipped()
    {
        Workflow wf = Write(IfCaller.Replace("CONDITION", "false", StringComparison.Ordinal));

        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(wf, "build/make", ReplayCorpus.Inputs()));

        Assert.Equal("the calling job build's if: (false) is false", plan.SkipReason);
    }

    [Fact]
    public void Expand_MatrixFromVars_RefusedAsNotSupportedNamingTheField()
    {
        Workflow wf = Write(MatrixCaller().Replace("os: [linux, bsd, plan9]", "os: ${{ fromJSON(vars.OSES) }}", StringComparison.Ordinal));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "build", ReplayCorpus.Inputs()));
        Assert.Contains("strategy.matrix", e.Message, StringComparison.Ordinal);
        Assert.Contains("not supported by replay yet (write the matrix out)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_MatrixFromNeeds_RefusedAsNotSupportedNamingTheField()
    {
        Workflow wf = Write(MatrixCaller().Replace("os: [linux, bsd, plan9]", "os: ${{ fromJSON(needs.prep.outputs.list) }}", StringComparison.Ordinal));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "build", ReplayCorpus.Inputs()));
        Assert.Contains("jobs.build.uses: ./.github/workflows/build.yml: strategy.matrix", e.Message, StringComparison.Ordinal);
        Assert.Contains("not supported", e.Message, StringComparison.Ordinal);
    }
}
