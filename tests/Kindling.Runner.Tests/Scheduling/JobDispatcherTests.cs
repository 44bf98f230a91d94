using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Testing.FakeForge;

namespace Kindling.Runner.Tests.Scheduling;

public sealed class JobDispatcherTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Run_LocalJob_SucceedsStepsRecordedSecretsMaskedNothingLeft()
    {
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme", secrets: ("API_KEY", "s3cr3t-value")), forge);
        string fid = forge.Submit(Specs.Steps("build", ("Say", "echo $GREETING world"), ("Leak", "echo key=$API_KEY")), Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Equal(
            [null, JobState.Queued, JobState.Preparing, JobState.Booting, JobState.Running, JobState.Succeeded],
            h.Store.Transitions(job.Id).Select(t => t.From));
        Assert.Equal(ForgeJobResult.Succeeded, forge.ResultOf(fid));
        Assert.Equal(["Say", "Leak"], h.Store.Steps(job.Id).Select(s => s.Name));
        Assert.All(h.Store.Steps(job.Id), s => Assert.Equal(0, s.ExitCode));

        string log = await File.ReadAllTextAsync(job.LogPath!, Ct);
        Assert.Contains("hello world", log);
        Assert.Contains("key=***", log);
        Assert.DoesNotContain("s3cr3t-value", log);
        Assert.Contains("step-start n=1", await File.ReadAllTextAsync(job.LogPath + ".idx", Ct));

        Assert.False(Directory.Exists(job.WorkDir));
        Assert.All(h.Launcher.Pids, pid => Assert.False(ProcessInspector.CommandLineContains(pid, job.VmId!)));
        Assert.Equal("s3cr3t-value", h.Launcher.Requests.Single().Mmds["kindling"]!["secrets"]!["API_KEY"]!.GetValue<string>());
    }

    [Fact]
    public async Task Run_FailingStep_FailedWithExitAndLaterStepSkipped()
    {
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), forge);
        string fid = forge.Submit(Specs.Steps("t", ("Fail", "exit 3"), ("After", "echo never")), Specs.Labels);
        await h.RunAllAsync(Ct);
        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Equal(3, job.ExitCode);
        JobTransition failed = h.Store.Transitions(job.Id).Single(t => t.To == JobState.Failed);
        Assert.Equal("job-end result=failed exit=3", failed.Reason);
        Assert.Equal([false, true], h.Store.Steps(job.Id).Select(s => s.Skipped));
    }

    [Fact]
    public async Task Run_JobTooSlow_TimedOutAndVmStopped()
    {
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.Merge(RunnerHarness.LocalTenant(0, "acme"),
            new() { ["Kindling:JobTimeout"] = "00:00:00.500" }), forge);
        string fid = forge.Submit(Specs.Steps("slow", ("Sleep", "sleep 30")), Specs.Labels);
        await h.RunAllAsync(Ct);
        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.TimedOut && t.Reason.StartsWith("timed out after", StringComparison.Ordinal));
        Assert.False(ProcessInspector.CommandLineContains(h.Launcher.Pids.Single(), job.VmId!));
    }

    [Fact]
    public async Task Run_CancelledOnForge_CancelledAndVmStopped()
    {
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), forge);
        string fid = forge.Submit(Specs.Steps("slow", ("Sleep", "sleep 30")), Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        for (int i = 0; i < 200 && h.Store.Get(job.Id)!.State != JobState.Running; i++)
        {
            await Task.Delay(10, Ct);
        }

        job = h.Store.Get(job.Id)!;
        Assert.Equal(JobState.Running, job.State);
        int vm = h.Launcher.Pids.Single();
        // The placeholder VM process may not have exec'd yet (its command line names the VM only after exec).
        for (int i = 0; i < 1000 && !ProcessInspector.CommandLineContains(vm, job.VmId!); i++)
        {
            await Task.Delay(10, Ct);
        }

        Assert.True(ProcessInspector.CommandLineContains(vm, job.VmId!), "the VM should be running before the cancel");

        forge.Cancel(fid);
        await h.Dispatcher.WaitIdleAsync();
        Assert.Equal(JobState.Cancelled, h.Store.Transitions(job.Id)[^2].To);
        Assert.Equal(JobState.Cleaned, h.Store.Get(job.Id)!.State);
        Assert.False(ProcessInspector.CommandLineContains(vm, job.VmId!), "the cancelled job's VM is still running");
        Assert.Equal(ForgeJobResult.Cancelled, forge.ResultOf(fid));
    }

    [Fact]
    public async Task Run_GitHubJob_JitRunnerOnlyInMmdsAndRemovedAfter()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob gh = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.QueueJob("acme/app", "gpu", "self-hosted", "gpu"); // not ours
        await using var h = new RunnerHarness(new()
        {
            ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
            ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
        });
        h.InstallActionsRunner();
        await h.RunAllAsync(Ct);
        await h.Dispatcher.PollAsync(Ct); // the job is still queued on the fake: no second VM
        h.Dispatcher.AdmitAndStart(Ct);
        await h.Dispatcher.WaitIdleAsync();

        JobRecord job = Assert.Single(h.Store.List());
        Assert.Equal((JobState.Cleaned, gh.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), (job.State, job.ForgeJobId));
        Assert.StartsWith($"kindling-{gh.Id}-", job.RunnerName, StringComparison.Ordinal);
        Assert.Single(fake.Requests, r => r.Path.EndsWith("/generate-jitconfig", StringComparison.Ordinal));
        Assert.Single(fake.Requests, r => r.Method == "DELETE" && r.Path == $"/repos/acme/app/actions/runners/{job.RunnerId}");
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Succeeded);
        Assert.Contains("actions runner: job done", await File.ReadAllTextAsync(job.LogPath!, Ct));
        Assert.Empty(fake.Runners);
        string jit = h.Launcher.Requests.Single().Mmds["kindling"]!["github"]!["jitconfig"]!.GetValue<string>();
        Assert.NotEmpty(jit);
        Assert.DoesNotContain(jit, await File.ReadAllTextAsync(job.LogPath!, Ct));
        foreach (string f in Directory.GetFiles(h.StateDirectory, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(jit, await File.ReadAllTextAsync(f, Ct));
        }
    }

    [Fact]
    public async Task Run_GitHubJobImageWithoutActionsRunner_FailedWithAgentErrorRunnerRemoved()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        await using var h = new RunnerHarness(new()
        {
            ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
            ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
        });
        await h.RunAllAsync(Ct);

        JobRecord job = Assert.Single(h.Store.List());
        Assert.Equal((JobState.Cleaned, 125), (job.State, job.ExitCode));
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Failed && t.Reason.Contains("/opt/actions-runner/run.sh is missing", StringComparison.Ordinal));
        Assert.Empty(fake.Runners);
    }

    [Fact]
    public async Task Run_VmDiesMidJob_FailedNamingTheExitAndVmGone()
    {
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme"), forge);
        string fid = forge.Submit(Specs.Steps("doomed", ("Long", "echo working\nsleep 30"), ("After", "echo never")), Specs.Labels);
        await h.Dispatcher.PollAsync(Ct);
        h.Dispatcher.AdmitAndStart(Ct);
        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        for (int i = 0; i < 1000 && !(h.Store.Get(job.Id)!.State == JobState.Running && h.Store.Steps(job.Id).Count > 0); i++)
        {
            await Task.Delay(10, Ct);
        }

        job = h.Store.Get(job.Id)!;
        Assert.True(h.Stub.Die(job.VmId!));
        await h.Dispatcher.WaitIdleAsync();

        Assert.Equal(JobState.Cleaned, h.Store.Get(job.Id)!.State);
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Failed && t.Reason.Contains("the VM exited with code 137 while running", StringComparison.Ordinal));
        Assert.Equal(ForgeJobResult.Failed, forge.ResultOf(fid));
        Assert.False(ProcessInspector.CommandLineContains(h.Launcher.Pids.Single(), job.VmId!));
    }

    [Fact]
    public async Task Poll_ForgeDown_NoJobsLostNoneDuplicated()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.AddFault(new FakeForgeFault { Kind = FakeForgeFaultKind.Status, Status = 503, Times = 1000 });
        await using var h = new RunnerHarness(new()
        {
            ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
            ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
            ["Kindling:Forge:GitHub:MaxRetries"] = "2", ["Kindling:Forge:GitHub:RetryBaseDelay"] = "00:00:00.010",
        });
        Assert.Equal(0, await h.Dispatcher.PollAsync(Ct)); // logged, not thrown
        fake.ClearFaults();
        Assert.Equal(1, await h.Dispatcher.PollAsync(Ct));
        Assert.Equal(0, await h.Dispatcher.PollAsync(Ct));
        Assert.Single(h.Store.List());
    }

    [Fact]
    public async Task Run_TwoTenants_QuotaRespectedAndSecretsIsolated()
    {
        LocalForge a = Specs.Local("a"), b = Specs.Local("b");
        await using var h = new RunnerHarness(RunnerHarness.Merge(
            RunnerHarness.LocalTenant(0, "a", maxVms: 1, secrets: ("A_TOKEN", "alpha-secret")),
            RunnerHarness.LocalTenant(1, "b", maxVms: 3, secrets: ("B_TOKEN", "bravo-secret"))), a, b);
        for (int i = 0; i < 4; i++)
        {
            a.Submit(Specs.Steps($"a{i}", ("x", "echo a")), Specs.Labels);
            b.Submit(Specs.Steps($"b{i}", ("x", "echo b")), Specs.Labels);
        }

        await h.Dispatcher.PollAsync(Ct);
        IReadOnlyList<long> first = h.Dispatcher.AdmitAndStart(Ct);
        Assert.Equal(1, first.Count(id => h.Store.Get(id)!.Tenant == "a"));
        Assert.Equal(3, first.Count(id => h.Store.Get(id)!.Tenant == "b"));
        await h.RunAllAsync(Ct);

        Assert.All(h.Store.List(), j => Assert.Equal(JobState.Cleaned, j.State));
        foreach (VmLaunchRequest r in h.Launcher.Requests)
        {
            string tenant = h.Store.Get(long.Parse(r.Mmds["kindling"]!["job"]!["id"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture))!.Tenant;
            string secrets = r.Mmds["kindling"]!["secrets"]!.ToJsonString();
            Assert.Equal(tenant == "a", secrets.Contains("alpha-secret", StringComparison.Ordinal));
            Assert.Equal(tenant == "b", secrets.Contains("bravo-secret", StringComparison.Ordinal));
        }
    }
}
