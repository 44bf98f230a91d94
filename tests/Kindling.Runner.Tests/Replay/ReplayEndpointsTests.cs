using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Cli;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Replay;

/// <summary>POST /api/jobs/{id}/rerun: the admin page's way to rerun a recorded local job in a fresh VM.</summary>
public sealed class ReplayEndpointsTests : IAsyncLifetime
{
    private readonly string _state = Directory.CreateTempSubdirectory("kindling-rerun-").FullName;
    private WebApplication _app = null!;
    private HttpClient _http = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var config = DemoCommand.Defaults(_state, "stub");
        config["Kindling:Web:Url"] = "http://127.0.0.1:0"; // any free port
        config["Kindling:Tenants:0:Secrets:TOKEN:Value"] = "tok-value";
        _app = RunnerHost.Build(config, configFile: null, runDaemon: false);
        await _app.StartAsync(Ct);
        _http = new HttpClient { BaseAddress = new Uri(_app.Urls.First()) };
    }

    private (LocalForge Forge, JobStore Store) Parts() =>
        ((LocalForge)_app.Services.GetRequiredService<ForgeRegistry>().For(DemoCommand.Tenant), _app.Services.GetRequiredService<JobStore>());

    private async Task<long> RecordAsync(JobSpec spec)
    {
        (LocalForge forge, JobStore store) = Parts();
        string fid = forge.Submit(spec, ["self-hosted", "kindling"], "octo/app");
        await _app.Services.GetRequiredService<JobDispatcher>().PollAsync(Ct);
        return store.FindByForgeJob("local", fid)!.Id;
    }

    [Fact]
    public async Task Rerun_LocalJobOfThisRunner_ResubmittedWithSameSpec()
    {
        JobSpec spec = DemoCommand.SampleJob with
        {
            SecretRefs = new Dictionary<string, IReadOnlyList<SecretPart>> { ["AUTH"] = [SecretPart.FromText("Bearer "), SecretPart.FromSecret("TOKEN")] },
        };
        long id = await RecordAsync(spec);

        using HttpResponseMessage r = await _http.PostAsync(new Uri($"/api/jobs/{id}/rerun", UriKind.Relative), null, Ct);
        Assert.Equal(HttpStatusCode.Accepted, r.StatusCode);
        string newId = (await r.Content.ReadFromJsonAsync<JsonObject>(Ct))!["forge_job_id"]!.GetValue<string>();
        ForgeJob queued = (await Parts().Forge.PollQueuedAsync(Ct)).Single(j => j.ForgeJobId == newId);
        Assert.Equal(spec.ToJson(), queued.Spec!.ToJson());
        Assert.Equal("octo/app", queued.Repository);
    }

    [Fact]
    public async Task Rerun_ReplayFromATerminal_ConflictNamesTheCommand()
    {
        long id = Parts().Store.Enqueue(new NewJob
        {
            Tenant = "replay", Forge = "local", ForgeJobId = "local-x", Repository = "r", Name = "n", Labels = ["x"], SpecJson = DemoCommand.SampleJob.ToJson(),
        }).Job.Id;
        await AssertFaultAsync(id, HttpStatusCode.Conflict, $"which this runner does not serve (a replay from a terminal?); run: kindling replay --rerun {id}");
    }

    [Fact]
    public async Task Rerun_SecretTheTenantLacks_ConflictNamesIt()
    {
        long id = await RecordAsync(DemoCommand.SampleJob with
        {
            SecretRefs = new Dictionary<string, IReadOnlyList<SecretPart>> { ["X"] = [SecretPart.FromSecret("NPM_TOKEN")] },
        });
        await AssertFaultAsync(id, HttpStatusCode.Conflict, "reads secret(s) NPM_TOKEN, which tenant demo does not configure");
    }

    [Fact]
    public async Task Rerun_GitHubJob_Conflict()
    {
        long id = Parts().Store.Enqueue(new NewJob { Tenant = "demo", Forge = "github", ForgeJobId = "9", Repository = "r", Name = "n", Labels = ["x"] }).Job.Id;
        await AssertFaultAsync(id, HttpStatusCode.Conflict, "ran on github with the forge's own runner");
    }

    [Fact]
    public Task Rerun_NoSuchJob_NotFound() => AssertFaultAsync(999, HttpStatusCode.NotFound, "there is no job 999");

    private async Task AssertFaultAsync(long id, HttpStatusCode status, string fault)
    {
        using HttpResponseMessage r = await _http.PostAsync(new Uri($"/api/jobs/{id}/rerun", UriKind.Relative), null, Ct);
        Assert.Equal(status, r.StatusCode);
        Assert.Contains(fault, (await r.Content.ReadFromJsonAsync<JsonObject>(Ct))!["fault_message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_state, recursive: true);
    }
}
