using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Kindling.Runner.Tests.Jobs;
using Kindling.Runner.Tests.Scheduling;

namespace Kindling.Runner.Tests.Web;

/// <summary>
/// The admin API of one host (h1: the daemon's web host) acting on another (h2: a daemon loop in this process) of a
/// fleet on one private PostgreSQL: <c>POST /api/hosts/{name}/drain</c> and <c>/undrain</c>, and
/// <c>POST /api/jobs/{id}/cancel</c> of a job h2 runs. Admin only; the others are refused before anything changes.
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class FleetWebTests(PostgresFixture pg)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Callers that may not act: no token (401), the read-only token and a tenant's submit token (403).</summary>
    private static readonly (string? Token, HttpStatusCode Status)[] NotAdmins =
    [
        (null, HttpStatusCode.Unauthorized), (KindlingWebFactory.ReadOnlyToken, HttpStatusCode.Forbidden), (KindlingWebFactory.AcmeSubmitToken, HttpStatusCode.Forbidden),
    ];

    [Fact]
    public async Task PostHostDrain_AnotherHost_AdminOnlyItStopsAdmittingUndrainResumes()
    {
        string env = FleetTests.ConnectionEnv(pg.CreateDatabase());
        LocalForge forge = new("acme");
        await using RunnerHarness h2 = FleetTests.Daemon(env, "h2", [("acme", 10)], [forge]);
        await using KindlingWebFactory h1 = new(Fleet(env, "h1"));
        HttpClient admin = h1.Client(KindlingWebFactory.AdminToken);
        HostDrain drain = h2.Get<HostDrain>();
        await using (RunnerHarness.LoopRun _ = h2.StartLoop(Ct))
        {
            await WaitFor(() => h1.Store.GetHost("h2") is { State: HostStates.Live });

            foreach ((string? token, HttpStatusCode status) in NotAdmins)
            {
                foreach (string action in (string[])["drain", "undrain"])
                {
                    using HttpResponseMessage refused = await h1.Client(token).PostAsync($"/api/hosts/h2/{action}", null, Ct);
                    Assert.True(refused.StatusCode == status, $"{action} with {token ?? "no token"}: {refused.StatusCode}, expected {status}");
                }
            }

            Assert.Null(h1.Store.GetHost("h2")!.DrainedBy);
            using (HttpResponseMessage unknown = await admin.PostAsync("/api/hosts/h9/drain", null, Ct))
            {
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
                Assert.Contains("there is no host 'h9' in the fleet", await FaultAsync(unknown), StringComparison.Ordinal);
            }

            using (HttpResponseMessage drained = await admin.PostAsync("/api/hosts/h2/drain", null, Ct))
            {
                Assert.Equal(HttpStatusCode.OK, drained.StatusCode);
                JsonElement body = await drained.Content.ReadFromJsonAsync<JsonElement>(Ct);
                Assert.Equal("h2", body.GetProperty("host").GetString());
                Assert.StartsWith("admin token at ", body.GetProperty("drained_by").GetString(), StringComparison.Ordinal);
            }

            JsonElement listed = Host(await admin.GetFromJsonAsync<JsonElement>("/api/hosts", Ct), "h2");
            Assert.StartsWith("admin token at ", listed.GetProperty("drained_by").GetString(), StringComparison.Ordinal);
            await WaitFor(() => drain.IsDrained); // h2's next heartbeat

            string queued = forge.Submit(Specs.Steps("after-drain", ("work", "true")), Specs.Labels);
            await WaitFor(() => h1.Store.FindByForgeJob(forge.Kind, queued) is { State: JobState.Queued }); // a drained host still polls
            Assert.Empty(h2.Dispatcher.AdmitAndStart(Ct));

            using (HttpResponseMessage undrained = await admin.PostAsync("/api/hosts/h2/undrain", null, Ct))
            {
                Assert.Equal(HttpStatusCode.OK, undrained.StatusCode);
                Assert.Equal(JsonValueKind.Null, (await undrained.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("drained_by").ValueKind);
            }

            Assert.Equal(JsonValueKind.Null, Host(await admin.GetFromJsonAsync<JsonElement>("/api/hosts", Ct), "h2").GetProperty("drained_by").ValueKind);
            await WaitFor(() => h1.Store.FindByForgeJob(forge.Kind, queued) is { State: JobState.Cleaned, Host: "h2" });
        }

        Assert.Single(h2.Launcher.Requests);
    }

    [Fact]
    public async Task PostJobCancel_JobRunningOnAnotherHost_AdminOnlyItsHostStopsItCancelledOnce()
    {
        using var gate = new FleetTests.Gate();
        string env = FleetTests.ConnectionEnv(pg.CreateDatabase());
        LocalForge forge = new("acme");
        await using RunnerHarness h2 = FleetTests.Daemon(env, "h2", [("acme", 10)], [forge]);
        await using KindlingWebFactory h1 = new(Fleet(env, "h1"));
        HttpClient admin = h1.Client(KindlingWebFactory.AdminToken);
        string forgeJobId = forge.Submit(Specs.Steps("long", ("work", gate.WaitStep)), Specs.Labels);
        JobRecord job;
        await using (RunnerHarness.LoopRun _ = h2.StartLoop(Ct))
        {
            await WaitFor(() => h1.Store.FindByForgeJob(forge.Kind, forgeJobId) is { State: JobState.Running, Host: "h2" });
            job = h1.Store.FindByForgeJob(forge.Kind, forgeJobId)!;

            foreach ((string? token, HttpStatusCode status) in NotAdmins)
            {
                using HttpResponseMessage refused = await h1.Client(token).PostAsync($"/api/jobs/{job.Id}/cancel", null, Ct);
                Assert.True(refused.StatusCode == status, $"cancel with {token ?? "no token"}: {refused.StatusCode}, expected {status}");
            }

            using (HttpResponseMessage unknown = await admin.PostAsync($"/api/jobs/{job.Id + 1000}/cancel", null, Ct))
            {
                Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            }

            Assert.Empty(h1.Store.CancelRequests("h2")); // nothing asked yet
            Assert.Equal(JobState.Running, h1.Store.Get(job.Id)!.State);

            using (HttpResponseMessage cancelled = await admin.PostAsync($"/api/jobs/{job.Id}/cancel", null, Ct))
            {
                Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
                Assert.Contains("is being cancelled", await cancelled.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
            }

            await WaitFor(() => h1.Store.Get(job.Id)!.State == JobState.Cleaned); // h2 stopped it at its next heartbeat

            using HttpResponseMessage again = await admin.PostAsync($"/api/jobs/{job.Id}/cancel", null, Ct);
            Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
            Assert.Contains("has already finished", await again.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        }

        IReadOnlyList<JobTransition> ts = h1.Store.Transitions(job.Id);
        JobTransition c = Assert.Single(ts, t => t.To == JobState.Cancelled);
        Assert.Equal(JobState.Running, c.From);
        Assert.Contains("cancelled by admin token on the admin page", c.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(ts, t => t.To is JobState.Succeeded or JobState.Failed or JobState.TimedOut);
        Assert.Equal(ForgeJobResult.Cancelled, forge.ResultOf(forgeJobId));
        Assert.Single(h2.Launcher.Requests);
    }

    /// <summary>The web host as a host of the fleet: the shared PostgreSQL, its own name.</summary>
    private static Dictionary<string, string?> Fleet(string env, string host) => new()
    {
        ["Kindling:Store:Kind"] = "postgres", ["Kindling:Store:ConnectionStringEnv"] = env, ["Kindling:HostName"] = host,
    };

    private static JsonElement Host(JsonElement hosts, string name) =>
        hosts.GetProperty("hosts").EnumerateArray().Single(h => h.GetProperty("name").GetString() == name);

    private static async Task<string> FaultAsync(HttpResponseMessage r) =>
        (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("fault_message").GetString()!;

    private static async Task WaitFor(Func<bool> done)
    {
        TimeSpan patience = TimeSpan.FromMinutes(2); // generous: CI is loaded
        for (var clock = System.Diagnostics.Stopwatch.StartNew(); !done(); await Task.Delay(50, Ct))
        {
            Assert.True(clock.Elapsed < patience, $"not there within {patience}");
        }
    }
}
