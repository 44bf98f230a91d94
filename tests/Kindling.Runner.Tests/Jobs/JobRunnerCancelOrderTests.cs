using System.Text;
using Kindling.Native;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// A host-driven job cancelled through its steps ends with two events: the agent's job-end line (result=failed, exit
/// 137 of the step the cancel ended) and its VM's exit. The runner may see either first; the job ends cancelled both
/// ways. <see cref="OrderedEndLauncher"/> relays the stub guest's serial output and decides which one the runner sees
/// first, so each order is run, not hoped for.
/// </summary>
public sealed class JobRunnerCancelOrderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Which of a cancelled job's two ends the runner sees first.</summary>
    public enum EndOrder
    {
        /// <summary>The job-end line; the VM exits only when the runner stops it.</summary>
        JobEndFirst,

        /// <summary>The VM's exit; the job-end line comes after it, through the log pump's drain.</summary>
        ExitFirst,
    }

    [Theory]
    [InlineData(EndOrder.JobEndFirst)]
    [InlineData(EndOrder.ExitFirst)]
    public async Task Cancel_VmExitAndJobEndInEitherOrder_JobCancelled(EndOrder order)
    {
        // Fake time: the runner's drain of the log pump after an early exit never runs out, so the job-end line that
        // follows the exit always arrives (the pump ends at the relay's end of file).
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var forge = new LocalForge("acme");
        var stub = new StubVmLauncher(TimeSpan.FromMilliseconds(50));
        var launcher = new OrderedEndLauncher(stub, order);
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), s =>
        {
            s.AddSingleton<TimeProvider>(time);
            s.AddSingleton<IVmLauncher>(launcher);
        }, forge);
        string fid = forge.Submit(new JobSpec
        {
            Name = "cancel-me",
            Steps =
            [
                new StepSpec { Name = "long", Run = "echo started; sleep 3600" },
                new StepSpec { Name = "cleanup", Run = "echo cleanup", If = "always()" },
                new StepSpec { Name = "next", Run = "echo next" },
            ],
        }, Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        long id = (await JobRunnerStepCancelTests.WaitAsync(() => h.Store.FindByForgeJob("local", fid))).Id;
        await JobRunnerStepCancelTests.WaitAsync(() => h.Store.Steps(id).FirstOrDefault(s => s.Number == 0));

        Assert.True(h.Get<JobCancellations>().TryCancel(id, "cancelled by the test"));
        await h.Dispatcher.WaitIdleAsync().WaitAsync(JobRunnerStepCancelTests.Patience, Ct);

        OrderedEndLauncher.Handle vm = Assert.Single(launcher.Handles);
        Assert.Equal(order, vm.Seen); // the order asked for is the order the runner was given
        JobTransition end = h.Store.Transitions(id).Last(t => t.To != JobState.Cleaned);
        Assert.True(end.To == JobState.Cancelled, $"{order}: the job ended {end.To}: {end.Reason}");
        Assert.Equal("cancelled by the test, during step 0 (long)", end.Reason);
        Assert.Equal([StepResults.Cancelled, StepResults.Success, StepResults.Skipped], h.Store.Steps(id).Select(s => s.Outcome));
        Assert.Equal(137, h.Store.Get(id)!.ExitCode);
    }
}

/// <summary>
/// The stub launcher with the guest's serial output relayed: the stub writes into a FIFO of its own, and the relay
/// copies each line to the runner's. At the guest's job-end line the relay gives the runner the two ends of the job in
/// the order asked for: <see cref="JobRunnerCancelOrderTests.EndOrder.ExitFirst"/> completes the VM's exit before the
/// line is written; <see cref="JobRunnerCancelOrderTests.EndOrder.JobEndFirst"/> writes the line and the VM exits only
/// when the runner stops it.
/// </summary>
internal sealed class OrderedEndLauncher(StubVmLauncher stub, JobRunnerCancelOrderTests.EndOrder order) : IVmLauncher
{
    private const string JobEndLine = "##kindling[job-end ";
    private readonly List<Handle> _handles = [];

    public bool PatchesMmds => true;

    public IReadOnlyList<Handle> Handles { get { lock (_handles) return [.. _handles]; } }

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        var guest = new JobWorkspace(Path.Combine(request.Workspace.Directory, "guest"));
        Directory.CreateDirectory(guest.Directory);
        FdIo.MakeFifo(guest.SerialFifoPath);
        var handle = new Handle(await stub.LaunchAsync(request with { Workspace = guest }, onSpawned, ct));
        lock (_handles)
        {
            _handles.Add(handle);
        }

        handle.Relay = Task.Run(() => RelayAsync(handle, guest.SerialFifoPath, request.Workspace.SerialFifoPath), CancellationToken.None);
        return handle;
    }

    private async Task RelayAsync(Handle vm, string from, string to)
    {
        // Opening a FIFO waits for its other end: the stub's guest opens it for writing; the runner reads the other.
        await using var input = new FileStream(from, FileMode.Open, FileAccess.Read);
        await using var output = new FileStream(to, FileMode.Open, FileAccess.Write);
        using var reader = new StreamReader(input, new UTF8Encoding(false));
        await using var writer = new StreamWriter(output, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
        while (await reader.ReadLineAsync(CancellationToken.None) is { } line)
        {
            if (line.StartsWith(JobEndLine, StringComparison.Ordinal))
            {
                if (order == JobRunnerCancelOrderTests.EndOrder.ExitFirst)
                {
                    vm.Exit(JobRunnerCancelOrderTests.EndOrder.ExitFirst); // before the runner can have read the line
                }

                vm.JobEndSent = true;
            }

            await writer.WriteLineAsync(line);
        }
    }

    /// <summary>The stub's VM, with an exit of the relay's choosing.</summary>
    internal sealed class Handle(IVmHandle inner) : IVmHandle
    {
        // Without RunContinuationsAsynchronously: the runner's wait for the first end is decided inside Exit.
        private readonly TaskCompletionSource<int> _exited = new();

        public Task Relay { get; set; } = Task.CompletedTask;

        /// <summary>Whether the relay has begun to write the job-end line to the runner.</summary>
        public volatile bool JobEndSent;

        /// <summary>Which end the runner was given first (set when the VM's exit completes).</summary>
        public JobRunnerCancelOrderTests.EndOrder? Seen { get; private set; }

        public int Pid => inner.Pid;

        public Task<int> Exited => _exited.Task;

        public void Exit(JobRunnerCancelOrderTests.EndOrder seen)
        {
            Seen ??= seen;
            _exited.TrySetResult(0); // the guest rebooted after job-end: the VMM exits 0 whatever the job's result
        }

        /// <summary>The runner stops the VM: once the job-end line was on its way, that was the end the runner saw first.</summary>
        public async Task KillAsync()
        {
            await inner.KillAsync();
            Exit(JobEndSent ? JobRunnerCancelOrderTests.EndOrder.JobEndFirst : JobRunnerCancelOrderTests.EndOrder.ExitFirst);
        }

        public Task PatchMmdsAsync(System.Text.Json.Nodes.JsonObject patch, CancellationToken ct) => inner.PatchMmdsAsync(patch, ct);

        public async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await Relay;
        }
    }
}
