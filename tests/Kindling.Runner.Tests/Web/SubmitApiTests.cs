using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Web;

/// <summary>POST /api/jobs against the daemon's web host with the stub launcher: who may submit, what is refused, and the job's run.</summary>
public sealed class SubmitApiTests : IAsyncLifetime
{
    private const string Ok = """{"tenant": "acme", "name": "hello", "runs_on": ["self-hosted", "kindling"], "steps": [{"run": "echo hello-from-submit"}]}""";

    private readonly KindlingWebFactory _web = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _web.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> PostAsync(string? token, string body, string? key = null)
    {
        HttpClient c = _web.Client(token);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/jobs") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await c.SendAsync(request, Ct);
    }

    private static async Task<string> FaultAsync(HttpResponseMessage r, CancellationToken ct) =>
        (await r.Content.ReadFromJsonAsync<JsonElement>(ct)).GetProperty("fault_message").GetString()!;

    private int JobCount() => _web.Store.List(limit: 1000).Count;

    [Fact]
    public async Task PostJobs_AdminToken_Returns201WithLocationAndTheJobSucceeds()
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AdminToken, Ok);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        JsonElement body = await r.Content.ReadFromJsonAsync<JsonElement>(Ct);
        long id = body.GetProperty("id").GetInt64();
        Assert.Equal($"/api/jobs/{id}", r.Headers.Location?.ToString());
        Assert.Equal("acme", body.GetProperty("tenant").GetString());

        JobWithResult done = await _web.WaitCleanedAsync(id);
        Assert.Equal(JobState.Succeeded, done.Result);
        Assert.Equal("submitted", done.Job.Forge);
        HttpClient admin = _web.Client(KindlingWebFactory.AdminToken);
        JsonElement detail = await admin.GetFromJsonAsync<JsonElement>(r.Headers.Location, Ct);
        Assert.Equal("succeeded", detail.GetProperty("job").GetProperty("result").GetString());
        Assert.Equal("submitted", detail.GetProperty("job").GetProperty("forge").GetString());
        Assert.Contains("hello-from-submit", await admin.GetStringAsync($"/api/jobs/{id}/log", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostJobs_TenantTokenWithoutTenant_SubmitsForItsOwnTenant()
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.InitechSubmitToken,
            """{"name": "mine", "runs_on": ["kindling"], "steps": [{"run": "echo initech"}]}""");
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        Assert.Equal("initech", _web.Store.Get(id)!.Tenant);

        // It may follow its own job, and only its own.
        HttpClient initech = _web.Client(KindlingWebFactory.InitechSubmitToken);
        Assert.Equal(JobState.Succeeded, (await _web.WaitCleanedAsync(id)).Result);
        using HttpResponseMessage own = await initech.GetAsync($"/api/jobs/{id}", Ct);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        using HttpResponseMessage other = await _web.Client(KindlingWebFactory.AcmeSubmitToken).GetAsync($"/api/jobs/{id}", Ct);
        Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        using HttpResponseMessage otherLog = await _web.Client(KindlingWebFactory.AcmeSubmitToken).GetAsync($"/api/jobs/{id}/log", Ct);
        Assert.Equal(HttpStatusCode.NotFound, otherLog.StatusCode);
    }

    [Fact]
    public async Task PostJobs_TenantTokenForAnotherTenant_Forbidden()
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.InitechSubmitToken, Ok);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.Contains("tenant initech only", await FaultAsync(r, Ct), StringComparison.Ordinal);
        Assert.Equal(0, JobCount());
    }

    [Theory]
    [InlineData(null, HttpStatusCode.Unauthorized)]
    [InlineData("not-a-token-of-this-daemon-at-all", HttpStatusCode.Unauthorized)]
    [InlineData(KindlingWebFactory.ReadOnlyToken, HttpStatusCode.Forbidden)]
    public async Task PostJobs_NoOrWrongOrReadOnlyToken_Refused(string? token, HttpStatusCode expected)
    {
        using HttpResponseMessage r = await PostAsync(token, Ok);
        Assert.Equal(expected, r.StatusCode);
        Assert.Equal(0, JobCount());
    }

    [Fact]
    public async Task TenantToken_OtherApis_Forbidden()
    {
        HttpClient acme = _web.Client(KindlingWebFactory.AcmeSubmitToken);
        foreach (string path in (string[])["/api/jobs", "/api/tenants", "/api/overview", "/"])
        {
            using HttpResponseMessage r = await acme.GetAsync(path, Ct);
            Assert.True(r.StatusCode == HttpStatusCode.Forbidden, $"{path}: {r.StatusCode}");
        }
    }

    [Theory]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"]}""", "steps: required")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"name": "no run"}]}""", "steps[0].run: required")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"rn": "echo"}]}""", "steps[0].rn: unknown field")]
    [InlineData("""{"tenant": "acme", "name": "x", "run_on": ["kindling"], "steps": [{"run": "echo"}]}""", "run_on: unknown field")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "vcpus": "two"}""", "vcpus: has the wrong type")]
    [InlineData("""{"tenant": "acme", "runs_on": ["kindling"], "steps": [{"run": "echo"}]}""", "name: required")]
    [InlineData("""{"tenant": "acme", "name": "x", "steps": [{"run": "echo"}]}""", "runs_on: required")]
    [InlineData("""{"tenant": "nobody", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}]}""", "tenant: 'nobody' is not configured")]
    [InlineData("""{"name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}]}""", "tenant: required")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "env": {"1BAD": "v"}}""", "env.1BAD: not an environment variable name")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo", "if": "github.ref == 'main'"}]}""", "steps[0].if:")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo", "shell": "cmd"}]}""", "steps[0].shell: 'cmd' is not supported")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "timeout_minutes": 0}""", "timeout_minutes: 0 is out of range")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo", "timeout_minutes": 0}]}""", "steps[0].timeout_minutes: 0 is out of range")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo", "timeout_minutes": 20}], "timeout_minutes": 10}""", "steps[0].timeout_minutes: 20 is out of range; use more than 0 and at most the job's timeout_minutes (10)")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "secrets": {"AUTH": [{"secret": "NOPE"}]}}""", "secrets.AUTH[0].secret: tenant acme has no secret 'NOPE'")]
    [InlineData("""{"tenant": "acme", "name": "x", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "secrets": {"AUTH": [{"text": "a", "secret": "DEPLOY_KEY"}]}}""", "secrets.AUTH[0]: give exactly one")]
    [InlineData("""[1, 2]""", "the body is not the JSON object")]
    public Task PostJobs_Invalid_400NamingTheField(string body, string message) => AssertRefusedAsync(body, HttpStatusCode.BadRequest, message);

    [Theory]
    [InlineData("""{"tenant": "acme", "name": "big", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "vcpus": 9}""", "vcpus: 9 is more than tenant acme's quota of 8 (Kindling:Tenants:0:Quota:Vcpus)")]
    [InlineData("""{"tenant": "acme", "name": "big", "runs_on": ["kindling"], "steps": [{"run": "echo"}], "memory_mib": 9000}""", "memory_mib: 9000 is more than tenant acme's quota")]
    [InlineData("""{"tenant": "acme", "name": "elsewhere", "runs_on": ["ubuntu-latest"], "steps": [{"run": "echo"}]}""", "runs_on: no pool serves [ubuntu-latest]")]
    public Task PostJobs_NeverAdmissible_422WithTheQuotaOrPool(string body, string message) => AssertRefusedAsync(body, HttpStatusCode.UnprocessableEntity, message);

    private async Task AssertRefusedAsync(string body, HttpStatusCode status, string message)
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AdminToken, body);
        Assert.Equal(status, r.StatusCode);
        Assert.StartsWith(message, await FaultAsync(r, Ct), StringComparison.Ordinal);
        Assert.Equal(0, JobCount());
    }

    [Fact]
    public async Task PostJobs_SameIdempotencyKeyTwice_OneJob()
    {
        using HttpResponseMessage first = await PostAsync(KindlingWebFactory.AcmeSubmitToken, Ok, key: "retry-me-7f3a");
        using HttpResponseMessage second = await PostAsync(KindlingWebFactory.AcmeSubmitToken, Ok, key: "retry-me-7f3a");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("true", second.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal(1, JobCount());

        // Another tenant's same key is another job; a new key is a new job.
        using HttpResponseMessage initech = await PostAsync(KindlingWebFactory.InitechSubmitToken,
            """{"name": "hello", "runs_on": ["kindling"], "steps": [{"run": "echo"}]}""", key: "retry-me-7f3a");
        using HttpResponseMessage fresh = await PostAsync(KindlingWebFactory.AcmeSubmitToken, Ok, key: "another-key");
        Assert.Equal(HttpStatusCode.Created, initech.StatusCode);
        Assert.Equal(HttpStatusCode.Created, fresh.StatusCode);
        Assert.Equal(3, JobCount());
    }

    [Fact]
    public async Task PostJobs_KeyReusedWithAnotherBody_422AndNoSecondJob()
    {
        using HttpResponseMessage first = await PostAsync(KindlingWebFactory.AdminToken, Ok, key: "k-1");
        using HttpResponseMessage other = await PostAsync(KindlingWebFactory.AdminToken, Ok.Replace("hello-from-submit", "something else", StringComparison.Ordinal), key: "k-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, other.StatusCode);
        Assert.StartsWith("Idempotency-Key: 'k-1' was used for job", await FaultAsync(other, Ct), StringComparison.Ordinal);
        Assert.Equal(1, JobCount());
    }

    [Fact]
    public async Task PostJobs_NotJson_415()
    {
        using HttpResponseMessage r = await _web.Client(KindlingWebFactory.AdminToken).PostAsync("/api/jobs", new StringContent("name=x", Encoding.UTF8, "application/x-www-form-urlencoded"), Ct);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, r.StatusCode);
    }

    [Fact]
    public async Task PostJobs_StepsEnvAndSecretReference_GuestGetsThemAndTheLogMasksTheSecret()
    {
        string body = """
            {"tenant": "acme", "name": "full", "repository": "acme/app", "runs_on": ["kindling"], "timeout_minutes": 5,
             "env": {"JOB_LEVEL": "job-value"},
             "secrets": {"AUTH": [{"text": "Bearer "}, {"secret": "DEPLOY_KEY"}]},
             "steps": [
               {"name": "Env", "run": "echo \"$JOB_LEVEL $STEP_LEVEL\"", "env": {"STEP_LEVEL": "step-value"}},
               {"name": "Secret", "run": "test \"$AUTH\" = \"Bearer $DEPLOY_KEY\" && echo auth-ok && echo \"$AUTH\""},
               {"name": "Fails", "run": "exit 4", "continue_on_error": true},
               {"name": "Always", "run": "echo always-ran", "if": "always()"}
             ]}
            """;
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AcmeSubmitToken, body);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        JobWithResult done = await _web.WaitCleanedAsync(id);
        string log = await _web.Client(KindlingWebFactory.AcmeSubmitToken).GetStringAsync($"/api/jobs/{id}/log", Ct);
        Assert.True(done.Result == JobState.Succeeded, log);
        Assert.Contains("job-value step-value", log, StringComparison.Ordinal);
        Assert.Contains("auth-ok", log, StringComparison.Ordinal);
        Assert.Contains("always-ran", log, StringComparison.Ordinal);
        Assert.DoesNotContain(KindlingWebFactory.SecretValue, log, StringComparison.Ordinal);
        Assert.Equal("acme/app", done.Job.Repository);
        // The job's forge is the daemon itself: the tenant's own forge is never told about it.
        Assert.Null(_web.Forge("acme").ResultOf(done.Job.ForgeJobId));
    }

    [Fact]
    public async Task PostJobs_StepTimeoutMinutes_StepEndedAsTimedOutAndAlwaysStepRuns()
    {
        string body = """
            {"tenant": "acme", "name": "slow-step", "runs_on": ["kindling"],
             "steps": [
               {"name": "Slow", "run": "echo slow-started; sleep 120; echo not-reached", "timeout_minutes": 0.01},
               {"name": "Next", "run": "echo next-ran"},
               {"name": "Always", "run": "echo always-ran", "if": "always()"}
             ]}
            """;
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AdminToken, body);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        Assert.Equal(TimeSpan.FromSeconds(0.6), JobSpec.FromJson(_web.Store.Get(id)!.SpecJson!).Steps[0].Timeout);

        JobWithResult done = await _web.WaitCleanedAsync(id);
        string log = await _web.Client(KindlingWebFactory.AdminToken).GetStringAsync($"/api/jobs/{id}/log", Ct);
        Assert.True(done.Result == JobState.Failed, log);
        Assert.Contains("slow-started", log, StringComparison.Ordinal);
        Assert.Contains("timed out", log, StringComparison.Ordinal);
        Assert.DoesNotContain("not-reached", log, StringComparison.Ordinal);
        Assert.DoesNotContain("next-ran", log, StringComparison.Ordinal);
        Assert.Contains("always-ran", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostJobs_JobTimeoutMinutes_JobTimesOut()
    {
        string body = """
            {"tenant": "acme", "name": "slow-job", "runs_on": ["kindling"], "timeout_minutes": 0.01,
             "steps": [{"name": "Slow", "run": "echo job-started; sleep 120; echo not-reached"}]}
            """;
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AdminToken, body);
        Assert.Equal(HttpStatusCode.Created, r.StatusCode);
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();

        JobWithResult done = await _web.WaitCleanedAsync(id);
        string log = await _web.Client(KindlingWebFactory.AdminToken).GetStringAsync($"/api/jobs/{id}/log", Ct);
        Assert.True(done.Result == JobState.TimedOut, $"{done.Result}: {log}");
        Assert.DoesNotContain("not-reached", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsPage_SubmittedJob_ShownWithItsSource()
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.AdminToken, Ok);
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        long local = await _web.SubmitAsync("acme", Specs.Steps("from-forge", ("Ok", "echo ok")));
        await _web.WaitCleanedAsync(id);
        await _web.WaitCleanedAsync(local);
        string html = await _web.Client(KindlingWebFactory.AdminToken).GetStringAsync("/jobs", Ct);
        Assert.Matches($"href=\"/jobs/{id}\">{id}</a>(?s:.)*?<td class=\"source\">submitted</td>", html);
        Assert.Matches($"href=\"/jobs/{local}\">{local}</a>(?s:.)*?<td class=\"source\">local</td>", html);
    }

    [Fact]
    public async Task Rerun_FailedSubmittedJob_RerunsAsASubmittedJob()
    {
        using HttpResponseMessage r = await PostAsync(KindlingWebFactory.InitechSubmitToken,
            """{"name": "flaky", "repository": "initech/tps", "runs_on": ["kindling"], "steps": [{"run": "echo trying; exit 1"}]}""");
        long id = (await r.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("id").GetInt64();
        Assert.Equal(JobState.Failed, (await _web.WaitCleanedAsync(id)).Result);

        using HttpResponseMessage again = await _web.Client(KindlingWebFactory.AdminToken).PostAsync($"/api/jobs/{id}/rerun", null, Ct);
        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        long rerun = (await again.Content.ReadFromJsonAsync<JsonElement>(Ct)).GetProperty("job_id").GetInt64();
        Assert.NotEqual(id, rerun);
        JobWithResult j = await _web.WaitCleanedAsync(rerun);
        Assert.Equal(("submitted", "initech", "initech/tps", "flaky"), (j.Job.Forge, j.Job.Tenant, j.Job.Repository, j.Job.Name));
        Assert.StartsWith("sub-", j.Job.ForgeJobId, StringComparison.Ordinal);
        Assert.Equal(_web.Store.Get(id)!.SpecJson, j.Job.SpecJson); // the same steps
        Assert.Equal(JobState.Failed, j.Result);
        Assert.Equal(2, JobCount());

        // The submitter may follow the re-run as its own job.
        using HttpResponseMessage own = await _web.Client(KindlingWebFactory.InitechSubmitToken).GetAsync($"/api/jobs/{rerun}", Ct);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }
}
