using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>Jobs given to the fleet (<c>POST /api/jobs</c>, <c>kindling submit</c>) when the host that held them dies.</summary>
public sealed partial class FleetTests
{
    [Fact]
    public async Task HostGoesSilent_ItsSubmittedJobs_TakenOverThroughTheSubmittedForgeNeverTheTenantForge()
    {
        var forge = new RunnerRecordingForge(new LocalForge("a"));
        string env = ConnectionEnv(pg.CreateDatabase());
        var store = new JobStore(new PostgresDialect(Environment.GetEnvironmentVariable(env)!), TimeProvider.System);

        // As JobSubmissions queues them: forge "submitted", sub- ids the tenant's own forge never saw. Host h3 admitted
        // both, ran one and was preparing the other, then went silent.
        store.RegisterHost(new HostRegistration("h3", 3, 32768, "test", ["kindling"]));
        JobRecord[] jobs = [.. Enumerable.Range(0, 2).Select(i => store.Enqueue(new NewJob
        {
            Tenant = "a", Forge = SubmittedForge.KindName, ForgeJobId = SubmittedForge.NewJobId(), Repository = "submitted", Name = $"sub-{i}",
            Labels = Specs.Labels, SpecJson = Specs.Steps($"sub-{i}", ("work", "true")).ToJson(), Vcpus = 1, MemoryMib = 256,
        }).Job)];
        store.Admit("h3", (q, _) => q.Select(j => j.Id), "admitted by h3");
        store.Transition(jobs[0].Id, JobState.Preparing, JobState.Booting, "booting on h3");
        store.Transition(jobs[0].Id, JobState.Booting, JobState.Running, "running on h3");

        RunnerHarness[] hosts = [Daemon(env, "h1", [("a", 10)], [forge], lease: "00:00:02")];
        try
        {
            await RunUntilCleaned(hosts, 2, also: () => store.GetHost("h3")!.State == HostStates.Gone);
        }
        finally
        {
            await DisposeAll(hosts);
        }

        JobTransition failed = Assert.Single(store.Transitions(jobs[0].Id), t => t.To == JobState.Failed);
        Assert.Contains("host h3 stopped heartbeating", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("while the job ran", failed.Reason, StringComparison.Ordinal);
        IReadOnlyList<JobTransition> rerun = store.Transitions(jobs[1].Id);
        Assert.Single(rerun, t => t.From == JobState.Preparing && t.To == JobState.Queued && t.Reason.Contains("host h3 stopped heartbeating", StringComparison.Ordinal));
        Assert.Single(rerun, t => t.To == JobState.Succeeded); // run again by h1, as the submitted job it is
        Assert.All(jobs, j => Assert.Equal((JobState.Cleaned, SubmittedForge.KindName), (store.Get(j.Id)!.State, store.Get(j.Id)!.Forge)));
        Assert.Single(hosts[0].Launcher.Requests);

        // The tenant's forge heard nothing of them: no result under a sub- id it never queued, no runner removed.
        Assert.Empty(forge.ReportedJobIds);
        Assert.Empty(forge.RemovedRunnerIds);
        Assert.All(jobs, j => Assert.Null(forge.Local.ResultOf(j.ForgeJobId)));
    }
}
