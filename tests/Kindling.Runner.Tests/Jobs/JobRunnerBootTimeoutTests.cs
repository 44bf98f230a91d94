using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// Launcher:BootTimeout: a VM whose guest agent never starts the job fails the job and is ended at that limit, not at
/// the job's own. Time is a FakeTimeProvider; the stub guest's boot takes an hour of real time.
/// </summary>
public sealed class JobRunnerBootTimeoutTests
{
    private static readonly TimeSpan Boot = TimeSpan.FromMinutes(7);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_GuestNeverStartsTheJob_FailedAtBootTimeoutAndItsVmEnded()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(
            RunnerHarness.Merge(RunnerHarness.LocalTenant(0, "acme"), new()
            {
                ["Kindling:JobTimeout"] = "06:00:00", ["Kindling:Launcher:BootTimeout"] = Boot.ToString(),
            }),
            s => s.AddSingleton<TimeProvider>(time).AddSingleton<Kindling.Runner.Launch.IVmLauncher>(new Kindling.Runner.Launch.StubVmLauncher(TimeSpan.Zero, bootDelay: TimeSpan.FromHours(1))),
            forge);
        string fid = forge.Submit(Specs.Steps("never", ("Say", "echo never")), Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        JobRecord booting = await WaitAsync(() => h.Store.FindByForgeJob("local", fid) is { State: JobState.Booting, VmmPid: not null } j ? j : null);

        await time.WaitForTimerAsync(Boot, Ct).WaitAsync(Patience, Ct);
        time.Advance(Boot - TimeSpan.FromSeconds(1));
        Assert.Equal(JobState.Booting, h.Store.Get(booting.Id)!.State); // not before the limit
        time.Advance(TimeSpan.FromSeconds(1));

        await WaitAsync(() => h.Store.Get(booting.Id) is { State: JobState.Cleaned } j ? j : null);
        JobTransition failed = h.Store.Transitions(booting.Id).Single(t => t.To == JobState.Failed);
        Assert.Equal(JobState.Booting, failed.From);
        Assert.StartsWith($"the guest agent did not start the job within {Boot} of the VM's start (Launcher:BootTimeout", failed.Reason, StringComparison.Ordinal);
        int pid = booting.VmmPid!.Value;
        Assert.False(Kindling.Native.ProcFs.Exists(pid) && !Kindling.Native.ProcFs.IsZombie(pid), "the VM still runs");
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
}
