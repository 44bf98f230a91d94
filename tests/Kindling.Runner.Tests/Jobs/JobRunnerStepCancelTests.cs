using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// Cancelling a host-driven job (the stub launcher's guest, which follows the agent's kindling/cancel and step
/// timeout_seconds rules): the first cancel ends the step that runs and the job goes on with its if: always() and
/// cancelled() steps, as GitHub does; a second cancel, or the grace running out, stops the VM. Each step's start,
/// end, outcome and duration are in the store.
/// </summary>
public sealed class JobRunnerStepCancelTests
{
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static JobSpec Spec(string cleanupRun) => new()
    {
        Name = "cancel-me",
        Steps =
        [
            new StepSpec { Name = "long", Run = "echo started; sleep 3600" },
            new StepSpec { Name = "cleanup", Run = cleanupRun, If = "always()" },
            new StepSpec { Name = "next", Run = "echo next" },
            new StepSpec { Name = "report", Run = "echo report", If = "cancelled()" },
        ],
    };

    private static async Task<(RunnerHarness H, long Id)> StartAsync(JobSpec spec, FakeTimeProvider? time = null)
    {
        var forge = new LocalForge("acme");
        var h = time is null
            ? new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), forge)
            : new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), s => s.AddSingleton<TimeProvider>(time), forge);
        string fid = forge.Submit(spec, Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        long id = (await WaitAsync(() => h.Store.FindByForgeJob("local", fid) is { } j ? j : null)).Id;
        return (h, id);
    }

    [Fact]
    public async Task Cancel_WhileAStepRuns_StepEndedAsCancelledAlwaysAndCancelledStepsRunJobCancelled()
    {
        (RunnerHarness h, long id) = await StartAsync(Spec("echo cleanup"));
        await using RunnerHarness _ = h;
        await WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 0));

        Assert.True(h.Get<JobCancellations>().TryCancel(id, "cancelled by the test"));
        await h.Dispatcher.WaitIdleAsync();

        JobTransition end = h.Store.Transitions(id).Last(t => t.To != JobState.Cleaned);
        Assert.Equal(JobState.Cancelled, end.To);
        Assert.Equal("cancelled by the test, during step 0 (long)", end.Reason);
        IReadOnlyList<StepRecord> steps = h.Store.Steps(id);
        Assert.Equal([StepResults.Cancelled, StepResults.Success, StepResults.Skipped, StepResults.Success], steps.Select(s => s.Outcome));
        Assert.Equal(137, steps[0].ExitCode);
        Assert.True(steps[0].StartedAt <= steps[0].EndedAt && steps[0].EndedAt <= steps[1].StartedAt, "steps recorded in the order they ran");
        Assert.All(steps.Where(s => !s.Skipped), s => Assert.NotNull(s.Seconds));
        Assert.Null(steps[2].StartedAt);
    }

    [Fact]
    public async Task Cancel_Twice_SecondCancelStopsTheVmDuringTheAlwaysStep()
    {
        (RunnerHarness h, long id) = await StartAsync(Spec("echo cleaning; sleep 3600"));
        await using RunnerHarness _ = h;
        await WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 0));
        var cancellations = h.Get<JobCancellations>();

        Assert.True(cancellations.TryCancel(id, "first"));
        await WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 1));
        Assert.True(cancellations.TryCancel(id, "second"));
        await h.Dispatcher.WaitIdleAsync();

        JobTransition end = h.Store.Transitions(id).Last(t => t.To != JobState.Cleaned);
        Assert.Equal(JobState.Cancelled, end.To);
        Assert.Equal("first, during step 1 (cleanup)", end.Reason);
        IReadOnlyList<StepRecord> steps = h.Store.Steps(id);
        Assert.Equal(StepResults.Cancelled, steps[0].Outcome);
        Assert.Null(steps[1].ExitCode); // stopped with the VM
        Assert.Equal(2, steps.Count);
    }

    [Fact]
    public async Task Cancel_GraceRunsOut_VmStopped()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        (RunnerHarness h, long id) = await StartAsync(Spec("echo cleaning; sleep 3600"), time);
        await using RunnerHarness _ = h;
        await WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 0));

        Assert.True(h.Get<JobCancellations>().TryCancel(id, "cancelled"));
        await WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 1));
        time.Advance(h.Get<JobRunner>().CancelGrace);
        await h.Dispatcher.WaitIdleAsync();

        Assert.Equal(JobState.Cancelled, h.Store.Transitions(id).Last(t => t.To != JobState.Cleaned).To);
        Assert.Null(h.Store.Steps(id)[1].ExitCode);
    }

    [Fact]
    public async Task StepTimeout_StepEndedAsTimedOutFailureStepsRunJobFailed()
    {
        JobSpec spec = new()
        {
            Name = "slow",
            Steps =
            [
                new StepSpec { Name = "slow", Run = "sleep 3600", Timeout = TimeSpan.FromSeconds(1) },
                new StepSpec { Name = "after", Run = "echo after" },
                new StepSpec { Name = "handle", Run = "echo handle", If = "failure()" },
            ],
        };
        (RunnerHarness h, long id) = await StartAsync(spec);
        await using RunnerHarness _ = h;
        await h.Dispatcher.WaitIdleAsync();
        await WaitAsync(() => h.Store.Get(id) is { State: JobState.Failed or JobState.Cleaned } j ? j : null);

        Assert.Equal(JobState.Failed, h.Store.Transitions(id).Last(t => t.To != JobState.Cleaned).To);
        Assert.Equal([StepResults.TimedOut, StepResults.Skipped, StepResults.Success], h.Store.Steps(id).Select(s => s.Outcome));
    }

    /// <summary>The value of <paramref name="done"/> once it has one (polled; up to <see cref="Patience"/>).</summary>
    internal static async Task<T> WaitAsync<T>(Func<T?> done) where T : class
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Patience);
        while (true)
        {
            if (done() is { } v)
            {
                return v;
            }

            await Task.Delay(20, cts.Token);
        }
    }
}
