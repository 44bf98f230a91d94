using System.Collections.Concurrent;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>WorkflowRun's scheduling (needs order, skips, fail-fast, max-parallel) with a fake job runner.</summary>
public sealed class WorkflowRunTests
{
    private readonly ConcurrentQueue<ReplayJobPlan> _ran = new();
    private readonly List<string> _report = [];

    private WorkflowRun Run(Workflow wf, Func<ReplayJobPlan, CancellationToken, Task<JobOutcome>> job, int capacity = 8) =>
        new(wf, ReplayCorpus.Inputs(), async (p, ct) =>
        {
            _ran.Enqueue(p);
            return await job(p, ct);
        }, capacity, line => { lock (_report) _report.Add(line); });

    private static JobOutcome Succeeded(ReplayJobPlan p) => new()
    {
        Result = JobResults.Success,
        Steps = p.Job.Steps.ToDictionary(s => s.Number, s => new StepOutcome(JobResults.Success, JobResults.Success,
            [new("tag", "v1.2.3"), new("channel", "stable")])),
    };

    [Fact]
    public async Task RunAsync_JobOutputs_FlowIntoNeedsOfLaterJobs()
    {
        var results = await Run(ReplayCorpus.Load("outputs-needs.yml"), (p, _) => Task.FromResult(Succeeded(p))).RunAsync("report", CancellationToken.None);

        Assert.Equal(["version", "build", "report"], _ran.Select(p => p.Job.Id));
        Assert.Equal([new("tag", "v1.2.3"), new("channel", "stable")], results["version"].Outputs);
        Assert.Equal("echo \"building v1.2.3 for stable\"", _ran.Single(p => p.Job.Id == "build").Spec.Steps[0].Run);
        Assert.Equal("echo \"results success,success\"", _ran.Single(p => p.Job.Id == "report").Spec.Steps[0].Run);
        Assert.All(results.Values, r => Assert.Equal(JobResults.Success, r.Result));
    }

    [Fact]
    public async Task RunAsync_NeededJobFails_DependentSkippedAlwaysJobRuns()
    {
        var results = await Run(ReplayCorpus.Load("outputs-needs.yml"), (p, _) => Task.FromResult(p.Job.Id == "version"
            ? new JobOutcome { Result = JobResults.Failure, ExitCode = 3 }
            : Succeeded(p))).RunAsync("report", CancellationToken.None);

        Assert.Equal(JobResults.Failure, results["version"].Result);
        Assert.Equal(JobResults.Skipped, results["build"].Result);
        Assert.Contains("job build (build): skipped: a job it needs did not succeed", _report);
        Assert.Equal(["version", "report"], _ran.Select(p => p.Job.Id));
        Assert.Equal("echo \"results failure,skipped\"", _ran.Last().Spec.Steps[0].Run);
        Assert.DoesNotContain(results["version"].Outputs, o => o.Value.Length > 0);
    }

    private static Workflow Matrix(string strategy) =>
        WorkflowParser.Parse($"on: push\njobs:\n  m:\n    runs-on: x\n    strategy:\n{strategy}      matrix:\n        n: [1, 2, 3, 4, 5]\n    steps: [{{run: echo}}]\n", "w.yml");

    [Fact]
    public async Task RunAsync_MaxParallel_BoundsConcurrentCombinations()
    {
        int current = 0, max = 0;
        var gates = new ConcurrentQueue<TaskCompletionSource>();
        using var started = new SemaphoreSlim(0);
        Workflow wf = Matrix("      max-parallel: 2\n");
        Task<IReadOnlyDictionary<string, JobSummary>> run = Run(wf, async (p, _) =>
        {
            int now = Interlocked.Increment(ref current);
            InterlockedMax(ref max, now);
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            gates.Enqueue(gate);
            started.Release();
            await gate.Task;
            Interlocked.Decrement(ref current);
            return Succeeded(p);
        }).RunAsync("m", CancellationToken.None);

        for (int i = 0; i < 5; i++)
        {
            await started.WaitAsync(TestContext.Current.CancellationToken);
            if (i >= 1)
            {
                Assert.True(gates.TryDequeue(out TaskCompletionSource? oldest));
                oldest.SetResult(); // one finishes: the next combination may start
            }
        }

        while (gates.TryDequeue(out TaskCompletionSource? rest))
        {
            rest.SetResult();
        }

        await run;
        Assert.Equal(2, max);
        Assert.Equal([1, 2, 3, 4, 5], _ran.Select(p => p.Index).Order());
    }

    [Theory]
    [InlineData("", 2, JobResults.Cancelled)]
    [InlineData("      fail-fast: false\n", 5, JobResults.Success)]
    public async Task RunAsync_CombinationFails_FailFastCancelsTheOthers(string strategy, int ran, string lastResult)
    {
        Workflow wf = Matrix(strategy + "      max-parallel: 1\n");
        var results = await Run(wf, (p, _) => Task.FromResult(p.Index == 2 ? new JobOutcome { Result = JobResults.Failure, ExitCode = 7 } : Succeeded(p)))
            .RunAsync("m", CancellationToken.None);

        Assert.Equal(ran, _ran.Count);
        Assert.Equal(JobResults.Failure, results["m"].Result);
        Assert.Equal(7, results["m"].ExitCode);
        Assert.Equal(lastResult == JobResults.Cancelled ? 3 : 0, _report.Count(l => l.Contains("cancelled before it started", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task RunAsync_RunningSiblingFails_FailFastCancelsItsToken()
    {
        Workflow wf = Matrix("      max-parallel: 2\n");
        var secondStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var results = await Run(wf, async (p, ct) =>
        {
            if (p.Index == 1)
            {
                await secondStarted.Task;
                return new JobOutcome { Result = JobResults.Failure, ExitCode = 1 };
            }

            secondStarted.TrySetResult();
            var cancelled = new TaskCompletionSource();
            await using (ct.Register(() => cancelled.SetResult()))
            {
                await cancelled.Task; // runs until fail-fast cancels it
            }

            return JobOutcome.Cancelled;
        }).RunAsync("m", CancellationToken.None);

        Assert.Equal(2, _ran.Count);
        Assert.Equal(JobResults.Failure, results["m"].Result);
    }

    [Fact]
    public async Task RunAsync_AncestorFailed_GrandchildSkippedThoughItsNeedsSucceeded()
    {
        Workflow wf = WorkflowParser.Parse(
            "on: push\njobs:\n  fail:\n    runs-on: x\n    steps: [{run: exit 1}]\n  mid:\n    needs: fail\n    if: success() || failure()\n    runs-on: x\n    steps: [{run: x}]\n" +
            "  last:\n    needs: mid\n    runs-on: x\n    steps: [{run: x}]\n", "w.yml");
        var results = await Run(wf, (p, _) => Task.FromResult(p.Job.Id == "fail" ? new JobOutcome { Result = JobResults.Failure, ExitCode = 1 } : Succeeded(p)))
            .RunAsync("last", CancellationToken.None);

        Assert.Equal(JobResults.Success, results["mid"].Result);
        Assert.Equal(JobResults.Skipped, results["last"].Result);
        Assert.Equal(["fail", "mid"], _ran.Select(p => p.Job.Id));
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int seen;
        while ((seen = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
        }
    }
}
