using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// What one host of the fleet does to another through the store: cancel a job the other runs (a cancel request its
/// owner acts on at its next heartbeat) and drain or undrain it (as <c>POST /api/hosts/{name}/drain</c> does).
/// Host h1 is only asked (its loop is not run, so every job runs on h2); h2 runs the daemon loop.
/// </summary>
public sealed partial class FleetTests
{
    [Fact]
    public async Task CancelThroughAnotherHost_JobRunningOnH2_H2StopsItCancelledOnceWithWhoAsked()
    {
        using var gate = new Gate();
        LocalForge forge = new("a");
        string env = ConnectionEnv(pg.CreateDatabase());
        RunnerHarness[] hosts = [Daemon(env, "h1", [("a", 10)], [forge]), Daemon(env, "h2", [("a", 10)], [forge])];
        JobStore store = hosts[0].Store;
        JobActions onH1 = hosts[0].Get<JobActions>();
        try
        {
            string forgeJobId = forge.Submit(Specs.Steps("a-0", ("work", gate.WaitStep)), Specs.Labels);
            JobRecord job;
            await using (RunnerHarness.LoopRun _ = hosts[1].StartLoop(Ct))
            {
                await WaitFor(() => store.FindByForgeJob(forge.Kind, forgeJobId) is { State: JobState.Running, Host: "h2" });
                job = store.FindByForgeJob(forge.Kind, forgeJobId)!;

                // As the admin API's cancel on h1 asks it (FleetActions.CancelAsync).
                Cancellation asked = await onH1.CancelAsync(job.Id, "cancelled by ada on the admin page");
                Assert.Equal(CancelOutcome.Stopping, asked.Outcome);
                Assert.Equal(JobState.Running, store.Get(job.Id)!.State); // h1 only left the request: h2 stops it

                await WaitFor(() => store.Get(job.Id)!.State == JobState.Cleaned);
                DateTimeOffset cleanedAt = DateTimeOffset.UtcNow;
                // A few more heartbeats of h2: a request that lingered would be acted on again.
                await WaitFor(() => hosts[1].Get<FleetMembership>().Me!.HeartbeatAt > cleanedAt.AddSeconds(1));
            }

            IReadOnlyList<JobTransition> ts = store.Transitions(job.Id);
            JobTransition cancelled = Assert.Single(ts, t => t.To == JobState.Cancelled);
            Assert.Equal(JobState.Running, cancelled.From);
            Assert.Contains("cancelled by ada on the admin page", cancelled.Reason, StringComparison.Ordinal);
            Assert.DoesNotContain(ts, t => t.To is JobState.Succeeded or JobState.Failed or JobState.TimedOut);
            Assert.Equal(ForgeJobResult.Cancelled, forge.ResultOf(forgeJobId));
            Assert.Single(hosts[1].Launcher.Requests);
            Assert.Empty(hosts[0].Launcher.Requests);

            // Cancelling it again, through either host, is refused as on one host and changes nothing.
            Assert.Equal(CancelOutcome.AlreadyFinished, (await onH1.CancelAsync(job.Id, "cancelled by ada on the admin page")).Outcome);
            Assert.Equal(CancelOutcome.AlreadyFinished, (await hosts[1].Get<JobActions>().CancelAsync(job.Id, "cancelled by bob on the admin page")).Outcome);
            Assert.Equal(ts.Count, store.Transitions(job.Id).Count);
            Assert.Equal(JobState.Cleaned, store.Get(job.Id)!.State);
        }
        finally
        {
            await DisposeAll(hosts);
        }
    }

    [Fact]
    public async Task DrainThroughAnotherHost_H2AdmitsNothingNewRunningJobsFinish_UndrainAdmitsAgain()
    {
        using var gate = new Gate();
        LocalForge forge = new("a");
        string env = ConnectionEnv(pg.CreateDatabase());
        RunnerHarness[] hosts = [Daemon(env, "h1", [("a", 10)], [forge]), Daemon(env, "h2", [("a", 10)], [forge])];
        JobStore onH1 = hosts[0].Store;
        FleetMembership h2 = hosts[1].Get<FleetMembership>();
        try
        {
            string[] before = [.. Enumerable.Range(0, 2).Select(i => forge.Submit(Specs.Steps($"before-{i}", ("work", gate.WaitStep)), Specs.Labels))];
            string[] after;
            await using (RunnerHarness.LoopRun _ = hosts[1].StartLoop(Ct))
            {
                await WaitFor(() => before.All(f => onH1.FindByForgeJob(forge.Kind, f) is { State: JobState.Running, Host: "h2" }));

                // As POST /api/hosts/h2/drain on h1 does (HostsApi: the store's drain of the named host).
                Assert.True(onH1.SetHostDrain("h2", $"ada at {DateTimeOffset.UtcNow:u}"));
                Assert.False(onH1.SetHostDrain("h9", "ada")); // no such host: the API answers 404
                HostRecord listed = Assert.Single(onH1.Hosts(), h => h.Name == "h2"); // what GET /api/hosts lists
                Assert.StartsWith("ada at ", listed.DrainedBy, StringComparison.Ordinal);
                Assert.Equal(HostStates.Live, listed.State);
                await WaitFor(() => h2.DrainedBy is not null && hosts[1].Get<HostDrain>().IsDrained); // h2's next heartbeat

                after = [.. Enumerable.Range(0, 2).Select(i => forge.Submit(Specs.Steps($"after-{i}", ("work", "true")), Specs.Labels))];
                await WaitFor(() => after.All(f => onH1.FindByForgeJob(forge.Kind, f) is { State: JobState.Queued })); // a drained host still polls
                Assert.Empty(hosts[1].Dispatcher.AdmitAndStart(Ct));

                gate.Release(); // the jobs that were running when it was drained finish
                await WaitFor(() => before.All(f => onH1.FindByForgeJob(forge.Kind, f) is { State: JobState.Cleaned }));
                DateTimeOffset finished = DateTimeOffset.UtcNow;
                await WaitFor(() => h2.Me!.HeartbeatAt > finished.AddSeconds(1)); // many loop turns with room to admit
                Assert.All(after, f => Assert.Equal(JobState.Queued, onH1.FindByForgeJob(forge.Kind, f)!.State));
                Assert.Equal(2, hosts[1].Launcher.Requests.Count);

                // POST /api/hosts/h2/undrain on h1.
                Assert.True(onH1.SetHostDrain("h2", null));
                Assert.Null(Assert.Single(onH1.Hosts(), h => h.Name == "h2").DrainedBy);
                await WaitFor(() => after.All(f => onH1.FindByForgeJob(forge.Kind, f) is { State: JobState.Cleaned }));
            }

            foreach (string f in before.Concat(after))
            {
                JobRecord j = onH1.FindByForgeJob(forge.Kind, f)!;
                Assert.Equal("h2", j.Host);
                Assert.Single(onH1.Transitions(j.Id), t => t.To == JobState.Succeeded);
            }

            Assert.Equal(4, hosts[1].Launcher.Requests.Count);
            Assert.Empty(hosts[0].Launcher.Requests);
        }
        finally
        {
            await DisposeAll(hosts);
        }
    }

    /// <summary>A step that runs until the test releases it (a file appears), so "still running" is the test's to decide.</summary>
    internal sealed class Gate : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("kindling-gate-").FullName;

        private string File => Path.Combine(_dir, "release");

        /// <summary>Waits for the release, or for the test to end (the folder goes), so that no step outlives the test.</summary>
        public string WaitStep => $"while [ -d '{_dir}' ] && [ ! -e '{File}' ]; do sleep 0.05; done";

        public void Release() => System.IO.File.WriteAllText(File, "");

        public void Dispose() => Directory.Delete(_dir, recursive: true);
    }
}
