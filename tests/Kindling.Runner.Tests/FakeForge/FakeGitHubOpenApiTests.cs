using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Kindling.Testing.FakeForge;
using Kindling.Testing.OpenApi;

namespace Kindling.Runner.Tests.FakeForge;

/// <summary>The fake's responses conform to GitHub's official OpenAPI description (npm @octokit/openapi).</summary>
public sealed class FakeGitHubOpenApiTests
{
    /// <summary>Pinned; tests/run.sh installs the same version.</summary>
    public const string OctokitOpenApiVersion = "23.0.2";

    private static readonly Lazy<JsonDocument> Description = new(Load);

    private static JsonDocument Load()
    {
        string prefix = Path.Combine(RepoPaths.Cache, "npm");
        string file = Path.Combine(prefix, "node_modules", "@octokit", "openapi", "generated", "api.github.com.json");
        if (!File.Exists(file))
        {
            // tests/run.sh installs it; do the same when the test runs on its own.
            using Process npm = Process.Start(new ProcessStartInfo("npm", ["install", "--silent", "--prefix", prefix, $"@octokit/openapi@{OctokitOpenApiVersion}"])
            {
                RedirectStandardError = true, RedirectStandardOutput = true,
            })!;
            string err = npm.StandardError.ReadToEnd();
            npm.WaitForExit();
            Assert.True(File.Exists(file), $"@octokit/openapi missing at {file} and `npm install` failed ({npm.ExitCode}): {err}");
        }

        return JsonDocument.Parse(File.ReadAllBytes(file));
    }

    private static OpenApiSchemaChecker Checker => new(Description.Value.RootElement) { RejectUndeclaredProperties = true };

    public static TheoryData<string, string, string, string, int> Operations() => new()
    {
        // method, request path (after setup), OpenAPI path template, body, expected status
        { "GET", "repos/acme/app/actions/runs?status=queued", "/repos/{owner}/{repo}/actions/runs", "", 200 },
        { "GET", "repos/acme/app/actions/runs?status=in_progress", "/repos/{owner}/{repo}/actions/runs", "", 200 },
        { "GET", "repos/acme/app/actions/runs?per_page=1", "/repos/{owner}/{repo}/actions/runs", "", 200 },
        { "GET", "repos/acme/app/actions/runs?per_page=1&page=2", "/repos/{owner}/{repo}/actions/runs", "", 200 },
        { "GET", "repos/acme/app/actions/runs/{run}/jobs", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", "", 200 },
        { "GET", "repos/acme/app/actions/runs/{run}/jobs?per_page=1", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", "", 200 },
        { "GET", "repos/acme/app/actions/runners?per_page=1", "/repos/{owner}/{repo}/actions/runners", "", 200 },
        { "GET", "repos/acme/app/actions/jobs/1", "/repos/{owner}/{repo}/actions/jobs/{job_id}", "", 404 },
        { "GET", "repos/acme/app/actions/runners/1", "/repos/{owner}/{repo}/actions/runners/{runner_id}", "", 404 },
        { "DELETE", "repos/acme/app/actions/runners/1", "/repos/{owner}/{repo}/actions/runners/{runner_id}", "", 404 },
        { "POST", "repos/acme/app/actions/runners/generate-jitconfig", "/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
            """{"name":"kindling-0-setup","runner_group_id":1,"labels":["self-hosted"]}""", 409 },
        { "POST", "repos/acme/app/actions/runners/generate-jitconfig", "/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
            """{"name":"kindling-3-abc","runner_group_id":1,"labels":[]}""", 422 },
        { "GET", "repos/acme/app/actions/jobs/{job}", "/repos/{owner}/{repo}/actions/jobs/{job_id}", "", 200 },
        { "POST", "repos/acme/app/actions/runners/generate-jitconfig", "/repos/{owner}/{repo}/actions/runners/generate-jitconfig",
            """{"name":"kindling-1-abc","runner_group_id":1,"labels":["self-hosted","kindling"]}""", 201 },
        { "POST", "orgs/acme/actions/runners/generate-jitconfig", "/orgs/{org}/actions/runners/generate-jitconfig",
            """{"name":"kindling-2-abc","runner_group_id":1,"labels":["self-hosted"]}""", 201 },
        { "GET", "repos/acme/app/actions/runners", "/repos/{owner}/{repo}/actions/runners", "", 200 },
        { "GET", "orgs/acme/actions/runners", "/orgs/{org}/actions/runners", "", 200 },
        { "GET", "repos/acme/app/actions/runners/{runner}", "/repos/{owner}/{repo}/actions/runners/{runner_id}", "", 200 },
        { "POST", "repos/acme/app/actions/runners/registration-token", "/repos/{owner}/{repo}/actions/runners/registration-token", "", 201 },
        { "POST", "repos/acme/app/actions/runners/remove-token", "/repos/{owner}/{repo}/actions/runners/remove-token", "", 201 },
        { "POST", "orgs/acme/actions/runners/registration-token", "/orgs/{org}/actions/runners/registration-token", "", 201 },
        { "POST", "app/installations/5/access_tokens", "/app/installations/{installation_id}/access_tokens", "", 201 },
    };

    /// <summary>
    /// Each answer, success or error, against the description: its body (undeclared properties too), the headers
    /// the operation declares (Link on lists), and the rate-limit headers GitHub sends on every REST answer.
    /// </summary>
    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Response_MatchesOctokitOpenApi(string method, string path, string template, string body, int status)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob job = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.AssignJob(job.Id, "someone-else");
        fake.AddJob(job.RunId, "test", "self-hosted", "kindling"); // a queued job inside an in-progress run
        fake.QueueRun("acme/app", ("lint", ["self-hosted"]), ("docs", ["self-hosted"]));
        fake.AddRunners("repos/acme/app", 2);
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        using (HttpResponseMessage r = await http.PostAsync("repos/acme/app/actions/runners/generate-jitconfig",
                   new StringContent("""{"name":"kindling-0-setup","runner_group_id":1,"labels":["self-hosted"]}""", Encoding.UTF8, "application/json"), ct))
        {
            r.EnsureSuccessStatusCode();
        }

        long runnerId = fake.Runners.Single(r => r.Name == "kindling-0-setup").Id;
        path = path.Replace("{run}", job.RunId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{job}", job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{runner}", runnerId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/vnd.github+json"));
        if (body.Length > 0)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        using HttpResponseMessage response = await http.SendAsync(request, ct);
        Assert.Equal(status, (int)response.StatusCode);
        IReadOnlyList<string> errors = await CheckAsync(Checker, response, template, method, ct);
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        if (path.Contains("per_page=1", StringComparison.Ordinal))
        {
            Assert.True(response.Headers.Contains("Link"), "a list of more than one page carries a Link header");
        }
    }

    /// <summary>Every mismatch of one answer: body (error bodies too), declared headers, rate-limit headers.</summary>
    private static async Task<IReadOnlyList<string>> CheckAsync(OpenApiSchemaChecker checker, HttpResponseMessage response, string template, string method, CancellationToken ct)
    {
        int status = (int)response.StatusCode;
        List<string> errors = [];
        string text = await response.Content.ReadAsStringAsync(ct);
        if (text.Length > 0)
        {
            using JsonDocument json = JsonDocument.Parse(text);
            JsonElement schema = status < 400 ? checker.ResponseSchema(template, method, status) : checker.ErrorSchema(template, method, status);
            errors.AddRange(checker.Check(json.RootElement, schema));
        }

        if (status < 400)
        {
            errors.AddRange(checker.CheckHeaders(template, method, status, response.Headers));
        }

        if (!template.StartsWith("/app/", StringComparison.Ordinal))
        {
            errors.AddRange(checker.CheckRateLimitHeaders(response.Headers));
        }

        return errors;
    }

    public static TheoryData<FakeForgeFaultKind, int, bool> RateLimitFaults() => new()
    {
        { FakeForgeFaultKind.TooManyRequests, 429, false },
        { FakeForgeFaultKind.TooManyRequests, 429, true },
        { FakeForgeFaultKind.SecondaryLimit, 403, false },
        { FakeForgeFaultKind.PrimaryLimit, 403, false },
        { FakeForgeFaultKind.PrimaryLimit, 429, false },
        { FakeForgeFaultKind.Status, 503, false },
    };

    /// <summary>Rate-limit and server errors carry GitHub's error body and rate-limit headers; Retry-After is seconds or an HTTP-date.</summary>
    [Theory]
    [MemberData(nameof(RateLimitFaults))]
    public async Task ErrorAnswer_MatchesOctokitOpenApi(FakeForgeFaultKind kind, int status, bool asDate)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.AddFault(new FakeForgeFault { Kind = kind, Status = status, RetryAfter = TimeSpan.FromSeconds(30), RetryAfterAsDate = asDate });
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        using HttpResponseMessage response = await http.GetAsync("repos/acme/app/actions/runs?status=queued", ct);
        Assert.Equal(status, (int)response.StatusCode);
        IReadOnlyList<string> errors = await CheckAsync(Checker, response, "/repos/{owner}/{repo}/actions/runs", "get", ct);
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        Assert.True(asDate ? response.Headers.RetryAfter?.Date is not null : response.Headers.RetryAfter?.Delta == TimeSpan.FromSeconds(30));
        if (kind == FakeForgeFaultKind.PrimaryLimit)
        {
            Assert.Equal("0", response.Headers.GetValues("x-ratelimit-remaining").Single());
        }
    }

    /// <summary>The bodies the runner sends (taken from the wire, not rebuilt here) match the operation's request schema.</summary>
    [Fact]
    public async Task ClientRequests_MatchOctokitOpenApi()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob job = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        using var http = new HttpClient();
        var client = new GitHubClient(http, new GitHubOptions { BaseUrl = fake.BaseUrl.ToString() }, new PatTokenSource("ghp_test"), TimeProvider.System,
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        foreach (string? org in (string?[])[null, "acme"])
        {
            var forge = new GitHubForge(new TenantOptions { Name = "acme", Forge = new TenantForgeOptions { Repositories = ["acme/app"], Organization = org } },
                client, Microsoft.Extensions.Logging.Abstractions.NullLogger<GitHubForge>.Instance);
            await forge.RegisterRunnerAsync(
                new ForgeJobRef(job.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), "acme/app", JobId: 1), $"kindling-1-{org ?? "repo"}", ["self-hosted", "kindling"], ct);
        }

        List<FakeForgeRequest> sent = [.. fake.Requests.Where(r => r.Path.EndsWith("/generate-jitconfig", StringComparison.Ordinal))];
        Assert.Equal(2, sent.Count);
        foreach (FakeForgeRequest r in sent)
        {
            string template = r.Path.StartsWith("/orgs/", StringComparison.Ordinal)
                ? "/orgs/{org}/actions/runners/generate-jitconfig"
                : "/repos/{owner}/{repo}/actions/runners/generate-jitconfig";
            using JsonDocument body = JsonDocument.Parse(r.Body!);
            IReadOnlyList<string> errors = Checker.Check(body.RootElement, Checker.RequestSchema(template, "post"));
            Assert.True(errors.Count == 0, string.Join('\n', errors));
        }
    }

    public static TheoryData<string, string> Tampers() => new()
    {
        // what the fake gets wrong, the error the check must report
        { "drop-required", "$.workflow_runs[0]: required property 'head_sha' is missing" },
        { "undeclared", "$.workflow_runs[0].queued_by: not declared by the schema" },
        { "bad-date-time", "$.workflow_runs[0].created_at: \"yesterday\" is not a valid date-time" },
        { "bad-uri", "$.workflow_runs[0].repository.owner.avatar_url: \"not a url\" is not a valid uri" },
        { "bad-type", "$.workflow_runs[0].repository.owner.login: is Number, schema wants string" },
        { "bad-link", "header Link: '/repositories/1/actions/runs?page=2; next' is not a list of <URL>; rel=\"…\" entries" },
        { "bad-rate-limit", "header x-ratelimit-reset: 'soon' is not of type integer" },
    };

    /// <summary>The checks above can fail: a fake that answers wrongly in any of these ways is caught.</summary>
    [Theory]
    [MemberData(nameof(Tampers))]
    public async Task Response_TamperedFake_CheckFails(string tamper, string expected)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        fake.QueueJob("acme/app", "build", "self-hosted");
        fake.Tamper = (ctx, body) =>
        {
            JsonObject run = body["workflow_runs"]![0]!.AsObject();
            switch (tamper)
            {
                case "drop-required": run.Remove("head_sha"); break;
                case "undeclared": run["queued_by"] = "someone"; break;
                case "bad-date-time": run["created_at"] = "yesterday"; break;
                case "bad-uri": run["repository"]!["owner"]!["avatar_url"] = "not a url"; break;
                case "bad-type": run["repository"]!["owner"]!["login"] = 7; break;
                case "bad-link": ctx.Response.Headers["Link"] = "/repositories/1/actions/runs?page=2; next"; break;
                case "bad-rate-limit": ctx.Response.Headers["x-ratelimit-reset"] = "soon"; break;
            }
        };
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        using HttpResponseMessage response = await http.GetAsync("repos/acme/app/actions/runs?status=queued", ct);
        IReadOnlyList<string> errors = await CheckAsync(Checker, response, "/repos/{owner}/{repo}/actions/runs", "get", ct);
        Assert.Contains(expected, errors);
    }

    [Fact]
    public void Checker_RequestBodyOutsideLimits_Reported()
    {
        JsonElement schema = Checker.RequestSchema("/repos/{owner}/{repo}/actions/runners/generate-jitconfig", "post");
        using JsonDocument bad = JsonDocument.Parse("""{"name":"r","runner_group_id":1.5,"labels":[],"work_folder":"_work","ephemeral":true}""");
        IReadOnlyList<string> errors = Checker.Check(bad.RootElement, schema);
        Assert.Contains("$.runner_group_id: is Number, schema wants integer", errors);
        Assert.Contains("$.labels: has 0 items, fewer than minItems 1", errors);
        Assert.Contains("$.ephemeral: not declared by the schema", errors);
    }

    [Fact]
    public void Checker_NumericLimitsFormatsAndClosedObjects_Reported()
    {
        using JsonDocument doc = JsonDocument.Parse("""
            {"paths":{},"components":{"schemas":{"s":{"type":"object","additionalProperties":false,"properties":{
              "n":{"type":"integer","minimum":1,"maximum":100},
              "x":{"type":"number","minimum":0,"exclusiveMinimum":true},
              "i":{"type":"integer","format":"int32"},
              "d":{"type":"string","format":"date-time"},
              "e":{"type":"string","format":"email"},
              "p":{"type":"string","pattern":"^[a-z]+$","maxLength":3}}}}}}
            """);
        var checker = new OpenApiSchemaChecker(doc.RootElement);
        JsonElement schema = doc.RootElement.GetProperty("components").GetProperty("schemas").GetProperty("s");
        using JsonDocument bad = JsonDocument.Parse("""{"n":101,"x":0,"i":3000000000,"d":"2026-13-01T00:00:00Z","e":"no at sign","p":"ABCD","extra":1}""");
        IReadOnlyList<string> errors = checker.Check(bad.RootElement, schema);
        Assert.Contains("$.n: 101 is above the maximum 100", errors);
        Assert.Contains("$.x: 0 is below the minimum 0 (exclusive)", errors);
        Assert.Contains("$.i: 3000000000 is not a valid int32", errors);
        Assert.Contains("$.d: \"2026-13-01T00:00:00Z\" is not a valid date-time", errors);
        Assert.Contains("$.e: \"no at sign\" is not a valid email", errors);
        Assert.Contains("$.p: 'ABCD' does not match the pattern ^[a-z]+$", errors);
        Assert.Contains("$.p: is 4 characters, longer than maxLength 3", errors);
        Assert.Contains("$.extra: not allowed (additionalProperties is false)", errors);
        using JsonDocument good = JsonDocument.Parse("""{"n":100,"x":0.5,"i":7,"d":"2026-12-04T16:00:00Z","e":"dev@example.com","p":"abc"}""");
        Assert.Empty(checker.Check(good.RootElement, schema));
    }

    [Fact]
    public void Checker_WrongShape_Reported()
    {
        var checker = new OpenApiSchemaChecker(Description.Value.RootElement);
        JsonElement schema = checker.ResponseSchema("/repos/{owner}/{repo}/actions/runners/{runner_id}", "get", 200);
        using JsonDocument bad = JsonDocument.Parse("""{"id":"seven","name":"x","os":"linux","status":"online","labels":[{"id":1}]}""");
        IReadOnlyList<string> errors = checker.Check(bad.RootElement, schema);
        Assert.Contains("$.id: is String, schema wants integer", errors);
        Assert.Contains("$: required property 'busy' is missing", errors);
        Assert.Contains("$.labels[0]: required property 'name' is missing", errors);
    }

    [Fact]
    public async Task Delete_Runner_204ThenNotFound()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        (await http.PostAsync("repos/acme/app/actions/runners/generate-jitconfig",
            new StringContent("""{"name":"r","runner_group_id":1,"labels":["x"]}""", Encoding.UTF8, "application/json"), ct)).Dispose();
        long id = fake.Runners.Single().Id;
        using HttpResponseMessage first = await http.DeleteAsync($"repos/acme/app/actions/runners/{id}", ct);
        using HttpResponseMessage second = await http.DeleteAsync($"repos/acme/app/actions/runners/{id}", ct);
        Assert.Equal((204, 404), ((int)first.StatusCode, (int)second.StatusCode));
    }
}
