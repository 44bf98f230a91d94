using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// The forge watch of a running job (Kindling:IdleRunnerTimeout): when the forge says the job is completed (or no
/// longer knows it) but the VM is still up, the VM is stopped once that has lasted IdleRunnerTimeout; a job the
/// forge still reports as running is never stopped for it. Time is a FakeTimeProvider: the watch's polls and the
/// timeout are driven by <see cref="FakeTimeProvider.Advance"/>, never by waiting.
/// </summary>
public sealed class JobRunnerWatchTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Idle = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(ForgeJobStatus.Completed)]
    [InlineData(ForgeJobStatus.Gone)]
    public async Task Watch_ForgeDoneButVmUp_StoppedOnlyAfterIdleRunnerTimeout(ForgeJobStatus done)
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var forge = new ScriptedForge("acme");
        await using var h = Harness(time, forge);
        long id = await StartLongJobAsync(h, forge);

        forge.Status = done;
        await PollAsync(time, forge);                      // first seen done: the idle clock starts
        await PollAsync(time, forge, Idle - Poll);         // IdleRunnerTimeout less one poll: still up
        Assert.Equal(JobState.Running, h.Store.Get(id)!.State);

        await PollAsync(time, forge);                      // IdleRunnerTimeout reached
        JobRecord stopped = await WaitAsync(() => h.Store.Get(id) is { State: not JobState.Running } j ? j : null);
        JobTransition end = h.Store.Transitions(id).Single(t => t.From == JobState.Running);
        Assert.Equal(JobState.Cancelled, end.To);
        Assert.StartsWith($"idle: the forge reports the job {done} but the VM is still up after {Idle}", end.Reason, StringComparison.Ordinal);
        Assert.NotEqual(JobState.Running, stopped.State);
        await h.Dispatcher.WaitIdleAsync();
    }

    /// <summary>A job the forge reports done once and then running again (a stale answer) starts the idle clock over.</summary>
    [Fact]
    public async Task Watch_DoneThenRunningAgain_IdleClockStartsOver()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var forge = new ScriptedForge("acme");
        await using var h = Harness(time, forge);
        long id = await StartLongJobAsync(h, forge);

        forge.Status = ForgeJobStatus.Completed;
        await PollAsync(time, forge, Idle - Poll);
        forge.Status = ForgeJobStatus.InProgress;
        await PollAsync(time, forge);
        forge.Status = ForgeJobStatus.Completed;
        await PollAsync(time, forge, Idle - Poll);          // done again for less than IdleRunnerTimeout

        Assert.Equal(JobState.Running, h.Store.Get(id)!.State);
        await CancelAsync(h, id);
    }

    [Fact]
    public async Task Watch_ForgeSaysRunning_NeverStoppedForIdleness()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var forge = new ScriptedForge("acme");
        await using var h = Harness(time, forge);
        long id = await StartLongJobAsync(h, forge);

        await PollAsync(time, forge, Idle * 3);

        Assert.Equal(JobState.Running, h.Store.Get(id)!.State);
        await CancelAsync(h, id);
    }

    private static RunnerHarness Harness(FakeTimeProvider time, ScriptedForge forge) => new(
        RunnerHarness.Merge(RunnerHarness.LocalTenant(0, "acme"), new()
        {
            ["Kindling:PollInterval"] = Poll.ToString(), ["Kindling:IdleRunnerTimeout"] = Idle.ToString(), ["Kindling:JobTimeout"] = "06:00:00",
            ["Kindling:Launcher:StubJobDuration"] = "00:00:00",
        }),
        s => s.AddSingleton<TimeProvider>(time),
        forge);

    /// <summary>A job whose (stub) guest runs far longer than the test: only the watch can end it.</summary>
    private static async Task<long> StartLongJobAsync(RunnerHarness h, ScriptedForge forge)
    {
        string fid = forge.Submit(Specs.Steps("long", ("Sleep", "echo started\nsleep 3600")), Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        JobRecord job = await WaitAsync(() => h.Store.FindByForgeJob("local", fid) is { State: JobState.Running } j ? j : null);
        return job.Id;
    }

    /// <summary>Advances the clock poll by poll over <paramref name="span"/> (one poll by default), each time waiting until the watch has asked the forge.</summary>
    private static async Task PollAsync(FakeTimeProvider time, ScriptedForge forge, TimeSpan? span = null)
    {
        for (TimeSpan left = span ?? Poll; left > TimeSpan.Zero; left -= Poll)
        {
            int before = forge.StatusCalls;
            await time.WaitForTimerAsync(Poll, Ct).WaitAsync(Patience, Ct); // the watch waits for its next poll
            Task asked = forge.NextStatusCall();
            time.Advance(Poll);
            await asked.WaitAsync(Patience, Ct);
            Assert.True(forge.StatusCalls > before);
        }
    }

    private static async Task CancelAsync(RunnerHarness h, long id)
    {
        Assert.True(h.Get<JobCancellations>().TryCancel(id, "the test ended"));
        await h.Dispatcher.WaitIdleAsync();
    }

    private static async Task<JobRecord> WaitAsync(Func<JobRecord?> done)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        cts.CancelAfter(Patience);
        while (true)
        {
            if (done() is { } job)
            {
                return job;
            }

            await Task.Delay(20, cts.Token);
        }
    }

    /// <summary>A local forge whose job status the test sets, and which signals each status poll.</summary>
    private sealed class ScriptedForge(string tenant) : IForge
    {
        private readonly LocalForge _inner = new(tenant);
        private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _calls;

        public ForgeJobStatus Status { get; set; } = ForgeJobStatus.InProgress;
        public int StatusCalls => Volatile.Read(ref _calls);
        public string Kind => _inner.Kind;
        public string Tenant => _inner.Tenant;

        public string Submit(JobSpec spec, IReadOnlyList<string> labels) => _inner.Submit(spec, labels);

        /// <summary>Completes at the next status poll after this call.</summary>
        public Task NextStatusCall()
        {
            lock (this)
            {
                return _next.Task;
            }
        }

        public Task<ForgeJobStatus> GetStatusAsync(ForgeJobRef job, CancellationToken ct)
        {
            ForgeJobStatus status = Status;
            Interlocked.Increment(ref _calls);
            lock (this)
            {
                _next.TrySetResult();
                _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            return Task.FromResult(status);
        }

        public Task<IReadOnlyList<ForgeJob>> PollQueuedAsync(CancellationToken ct) => _inner.PollQueuedAsync(ct);
        public Task<RunnerRegistration?> RegisterRunnerAsync(ForgeJobRef job, string runnerName, IReadOnlyList<string> labels, CancellationToken ct) =>
            _inner.RegisterRunnerAsync(job, runnerName, labels, ct);
        public Task RemoveRunnerAsync(ForgeJobRef job, long runnerId, CancellationToken ct) => _inner.RemoveRunnerAsync(job, runnerId, ct);
        public Task<IReadOnlyList<ForgeRunner>> ListRunnersAsync(CancellationToken ct) => _inner.ListRunnersAsync(ct);
        public Task RemoveRunnerAsync(long runnerId, CancellationToken ct) => _inner.RemoveRunnerAsync(runnerId, ct);
        public Task ReportResultAsync(ForgeJobRef job, ForgeJobResult result, CancellationToken ct) => _inner.ReportResultAsync(job, result, ct);
    }
}
