using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Runner.Jobs;
using Kindling.Testing.FakeForge;

namespace Kindling.Runner.Tests.Scheduling;

/// <summary>
/// A GitHub job from FakeGitHub's queue to its conclusion through the runner's real services and the stub launcher:
/// the stand-in image holds <see cref="FakeActionsRunner"/> at /opt/actions-runner, whose run.sh decodes the JIT config,
/// reaches the fake by name and runs the job there. (GitHubJobMicroVmTests runs the same in a real microVM.)
/// </summary>
public sealed class GitHubJobEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Dictionary<string, string?> Tenant(FakeGitHub fake) => new()
    {
        ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Repositories:0"] = "acme/app",
        ["Kindling:Tenants:0:Credentials:Token"] = "ghp_x", ["Kindling:Forge:GitHub:BaseUrl"] = fake.BaseUrl.ToString(),
    };

    [Fact]
    public async Task Run_GitHubJobOnActionsRunner_QueuedInProgressCompletedRunnerRemovedJitConfigNowhere()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob build = fake.QueueJob("acme/app", "build", "kindling"); // a subset of the pool's labels
        FakeJob gpu = fake.QueueJob("acme/app", "gpu", "self-hosted", "gpu"); // no pool has "gpu": not ours
        await using var h = new RunnerHarness(Tenant(fake));
        h.InstallFakeActionsRunner();

        await h.RunAllAsync(Ct);

        JobRecord job = Assert.Single(h.Store.List());
        Assert.Equal((JobState.Cleaned, build.Id.ToString(CultureInfo.InvariantCulture), 0), (job.State, job.ForgeJobId, job.ExitCode));
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Succeeded);
        Assert.Equal(["queued", "in_progress", "completed"], build.StatusHistory);
        Assert.Equal("success", build.Conclusion);
        Assert.Equal(job.RunnerName, build.RunnerName); // the JIT runner Kindling registered ran it

        // Registered once, with the pool's labels (not only the job's), then gone from the forge.
        FakeForgeRequest register = Assert.Single(fake.Requests, r => r.Path.EndsWith("/generate-jitconfig", StringComparison.Ordinal));
        Assert.Equal(201, register.Status);
        Assert.Equal(["self-hosted", "kindling"], JsonNode.Parse(register.Body!)!["labels"]!.AsArray().Select(l => l!.GetValue<string>()));
        Assert.Empty(fake.Runners);
        Assert.Contains(fake.Requests, r => r.Method == "DELETE" && r.Path == $"/repos/acme/app/actions/runners/{job.RunnerId}");

        // The job whose labels match no pool is left alone: still queued, no runner, no VM.
        Assert.Equal(["queued"], gpu.StatusHistory);
        Assert.Single(h.Launcher.Requests);

        string log = await File.ReadAllTextAsync(job.LogPath!, Ct);
        Assert.Contains($"Connecting to http://localhost:{fake.BaseUrl.Port}/ as runner {job.RunnerName}", log, StringComparison.Ordinal);
        Assert.StartsWith(FakeActionsRunner.StartedLine, log.Split('\n').First(l => l.StartsWith("Runner.", StringComparison.Ordinal)), StringComparison.Ordinal);
        Assert.Contains("Running job: build", log, StringComparison.Ordinal);
        Assert.Contains("debug: jitconfig=***", log, StringComparison.Ordinal);
        string jit = h.Launcher.Requests.Single().Mmds["kindling"]!["github"]!["jitconfig"]!.GetValue<string>();
        Assert.Equal(jit, fake.JitConfigFor(job.RunnerName!, JitSecret(jit)));
        AssertNowhere(h, jit);
    }

    [Fact]
    public async Task Run_JitConfigRefusedByRunnerService_FailedWithRunnersMessageAndRunnerRemoved()
    {
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob build = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        // GitHub answers with a JIT config whose credential its service does not accept (revoked between the two).
        fake.Tamper = (ctx, body) =>
        {
            if (ctx.Request.Path.Value!.EndsWith("/generate-jitconfig", StringComparison.Ordinal))
            {
                body["encoded_jit_config"] = fake.JitConfigFor(body["runner"]!["name"]!.GetValue<string>(), "revoked-credential");
            }
        };
        await using var h = new RunnerHarness(Tenant(fake));
        h.InstallFakeActionsRunner();

        await h.RunAllAsync(Ct);

        JobRecord job = Assert.Single(h.Store.List());
        Assert.Equal((JobState.Cleaned, 1), (job.State, job.ExitCode));
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Failed && t.Reason == "job-end result=failed exit=1");
        string log = await File.ReadAllTextAsync(job.LogPath!, Ct);
        Assert.Contains($"An error occurred: {FakeGitHub.RunnerRefusedMessage} (HTTP 401)", log, StringComparison.Ordinal);
        Assert.Equal(["queued"], build.StatusHistory); // nothing ran it
        Assert.Empty(fake.Runners);
        Assert.Single(fake.Requests, r => r.Method == "DELETE" && r.Path == $"/repos/acme/app/actions/runners/{job.RunnerId}" && r.Status == 204);
        AssertNowhere(h, h.Launcher.Requests.Single().Mmds["kindling"]!["github"]!["jitconfig"]!.GetValue<string>());
    }

    /// <summary>The JIT config in no file of the state directory: the log, the job database (and its WAL), the work directories.</summary>
    private static void AssertNowhere(RunnerHarness h, string jit)
    {
        Assert.NotEmpty(jit);
        foreach (string f in Directory.GetFiles(h.StateDirectory, "*", SearchOption.AllDirectories))
        {
            Assert.False(File.ReadAllText(f).Contains(jit, StringComparison.Ordinal), $"{f} holds the JIT config");
        }

        foreach (JobRecord j in h.Store.List())
        {
            Assert.All(h.Store.Transitions(j.Id), t => Assert.DoesNotContain(jit, t.Reason, StringComparison.Ordinal));
        }
    }

    private static string JitSecret(string jit) =>
        JsonNode.Parse(Convert.FromBase64String(jit))!["secret"]!.GetValue<string>();
}
