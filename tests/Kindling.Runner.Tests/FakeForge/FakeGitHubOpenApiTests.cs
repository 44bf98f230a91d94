using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
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

    public static TheoryData<string, string, string, string, int> Operations() => new()
    {
        // method, request path (after setup), OpenAPI path template, body, expected status
        { "GET", "repos/acme/app/actions/runs?status=queued", "/repos/{owner}/{repo}/actions/runs", "", 200 },
        { "GET", "repos/acme/app/actions/runs/{run}/jobs", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs", "", 200 },
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

    [Theory]
    [MemberData(nameof(Operations))]
    public async Task Response_MatchesOctokitOpenApi(string method, string path, string template, string body, int status)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using FakeGitHub fake = await FakeGitHub.StartAsync();
        FakeJob job = fake.QueueJob("acme/app", "build", "self-hosted", "kindling");
        fake.AssignJob(job.Id, "someone-else");
        using var http = new HttpClient { BaseAddress = fake.BaseUrl };
        using (HttpResponseMessage r = await http.PostAsync("repos/acme/app/actions/runners/generate-jitconfig",
                   new StringContent("""{"name":"kindling-0-setup","runner_group_id":1,"labels":["self-hosted"]}""", Encoding.UTF8, "application/json"), ct))
        {
            r.EnsureSuccessStatusCode();
        }

        long runnerId = fake.Runners.Single().Id;
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
        using JsonDocument json = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        var checker = new OpenApiSchemaChecker(Description.Value.RootElement);
        IReadOnlyList<string> errors = checker.Check(json.RootElement, checker.ResponseSchema(template, method, status));
        Assert.True(errors.Count == 0, string.Join('\n', errors));
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
