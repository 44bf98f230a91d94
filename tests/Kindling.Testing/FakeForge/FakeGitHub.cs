using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Kindling.Testing.FakeForge;

/// <summary>
/// An in-process fake of GitHub's REST API for the Actions endpoints a runner manager uses, on 127.0.0.1 with an
/// ephemeral port. Responses carry GitHub's shapes (checked against the official OpenAPI description in a test),
/// status codes, rate-limit headers and ETags. Lists page as GitHub's do (<see cref="FakePaging"/>); a run may hold
/// several jobs, and jobs may be added to a run in progress (as <c>needs:</c> releases them). The primary rate limit
/// is enforced: with <see cref="RateLimitRemaining"/> at 0 requests are refused until <see cref="RateLimitReset"/>.
/// Faults can be injected; every request is logged.
/// </summary>
public sealed partial class FakeGitHub : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly List<FakeRun> _runs = [];
    private readonly List<FakeJob> _jobs = [];
    private readonly List<FakeRunner> _runners = [];
    private readonly List<FakeForgeFault> _faults = [];
    private readonly List<FakeForgeRequest> _requests = [];
    private readonly Dictionary<string, long> _repoIds = [];
    private readonly Dictionary<string, long> _orgIds = [];
    private readonly TimeProvider _time;
    private WebApplication? _app;
    private long _nextId = 1000;

    public FakeGitHub(TimeProvider? time = null) => _time = time ?? TimeProvider.System;

    /// <summary>The API root, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseUrl { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The tokens the fake accepts as <c>Authorization: Bearer</c>; empty accepts any.</summary>
    public HashSet<string> AcceptedTokens { get; } = [];

    /// <summary>When set, <c>POST /app/installations/{id}/access_tokens</c> verifies the RS256 JWT with this key.</summary>
    public RSA? AppPublicKey { get; set; }

    public long AppId { get; set; } = 4242;

    /// <summary>Primary rate limit state reported in <c>x-ratelimit-*</c>; each non-304 request uses one.</summary>
    public int RateLimitRemaining { get; set; } = 5000;

    public int RateLimitLimit { get; set; } = 5000;

    /// <summary>When the limit's window ends; the first request at or after it starts a new hour with the whole limit.</summary>
    public DateTimeOffset RateLimitReset { get; set; } = DateTimeOffset.FromUnixTimeSeconds(4_000_000_000);

    /// <summary>
    /// Changes each JSON answer before it is written (its body; headers through the context): a test that proves a
    /// wrong answer is caught by the checks that watch this fake.
    /// </summary>
    public Action<HttpContext, JsonObject>? Tamper { get; set; }

    /// <summary>Starts the fake on <paramref name="listenAddress"/> (loopback unless a guest must reach it) and an ephemeral port.</summary>
    public static async Task<FakeGitHub> StartAsync(TimeProvider? time = null, string listenAddress = "127.0.0.1")
    {
        var fake = new FakeGitHub(time);
        await fake.StartServerAsync(listenAddress);
        return fake;
    }

    public IReadOnlyList<FakeForgeRequest> Requests
    {
        get
        {
            lock (_lock)
            {
                return [.. _requests];
            }
        }
    }

    public IReadOnlyList<FakeRunner> Runners
    {
        get
        {
            lock (_lock)
            {
                return [.. _runners];
            }
        }
    }

    public IReadOnlyList<FakeJob> Jobs
    {
        get
        {
            lock (_lock)
            {
                return [.. _jobs];
            }
        }
    }

    public void AddFault(FakeForgeFault fault)
    {
        lock (_lock)
        {
            _faults.Add(fault);
        }
    }

    public void ClearFaults()
    {
        lock (_lock)
        {
            _faults.Clear();
        }
    }

    /// <summary>Queues a workflow run with one job asking for <paramref name="labels"/>; returns the job.</summary>
    public FakeJob QueueJob(string repository, string name, params string[] labels)
    {
        long runId = QueueRun(repository, (name, labels)).Id;
        return Jobs.Single(j => j.RunId == runId);
    }

    /// <summary>Queues a workflow run with these jobs (a matrix, or jobs without <c>needs:</c>); returns the run.</summary>
    public FakeRun QueueRun(string repository, params (string Name, string[] Labels)[] jobs)
    {
        lock (_lock)
        {
            var run = new FakeRun
            {
                Id = ++_nextId, Repository = repository, RepositoryId = RepoId(repository), CreatedAt = _time.GetUtcNow(), UpdatedAt = _time.GetUtcNow(),
            };
            _runs.Add(run);
            foreach ((string name, string[] labels) in jobs)
            {
                _jobs.Add(new FakeJob { Id = ++_nextId, RunId = run.Id, Repository = repository, Name = name, Labels = labels, CreatedAt = _time.GetUtcNow() });
            }

            return run;
        }
    }

    /// <summary>A job of an existing run becomes queued (as when the jobs it <c>needs:</c> finish); returns it.</summary>
    public FakeJob AddJob(long runId, string name, params string[] labels)
    {
        lock (_lock)
        {
            FakeRun run = _runs.Single(r => r.Id == runId);
            var job = new FakeJob { Id = ++_nextId, RunId = runId, Repository = run.Repository, Name = name, Labels = labels, CreatedAt = _time.GetUtcNow() };
            _jobs.Add(job);
            UpdateRun(runId);
            return job;
        }
    }

    /// <summary>Registers <paramref name="count"/> offline runners in a scope (<c>repos/OWNER/REPO</c> or <c>orgs/ORG</c>), e.g. for paging.</summary>
    public IReadOnlyList<FakeRunner> AddRunners(string scope, int count, string namePrefix = "runner")
    {
        lock (_lock)
        {
            List<FakeRunner> added = [.. Enumerable.Range(0, count).Select(i => new FakeRunner
            {
                Id = ++_nextId, Name = $"{namePrefix}-{i}", Scope = scope, Labels = ["self-hosted"], EncodedJitConfig = "",
            })];
            _runners.AddRange(added);
            return added;
        }
    }

    private long RepoId(string repository)
    {
        if (!_repoIds.TryGetValue(repository, out long id))
        {
            _repoIds[repository] = id = ++_nextId;
        }

        return id;
    }

    private long OrgId(string org)
    {
        if (!_orgIds.TryGetValue(org, out long id))
        {
            _orgIds[org] = id = ++_nextId;
        }

        return id;
    }

    /// <summary>GitHub hands the job to a runner (as when a JIT runner connects).</summary>
    public void AssignJob(long jobId, string runnerName)
    {
        lock (_lock)
        {
            FakeJob job = _jobs.Single(j => j.Id == jobId);
            FakeRunner? runner = _runners.FirstOrDefault(r => r.Name == runnerName);
            job.Status = "in_progress";
            job.StatusHistory.Add(job.Status);
            job.RunnerName = runnerName;
            job.RunnerId = runner?.Id;
            if (runner is not null)
            {
                runner.Status = "online";
                runner.Busy = true;
            }

            UpdateRun(job.RunId);
        }
    }

    /// <summary>Completes (or with "cancelled", cancels) a job; an ephemeral runner that ran it is removed, as GitHub does.</summary>
    public void CompleteJob(long jobId, string conclusion)
    {
        lock (_lock)
        {
            FakeJob job = _jobs.Single(j => j.Id == jobId);
            job.Status = "completed";
            job.StatusHistory.Add(job.Status);
            job.Conclusion = conclusion;
            _runners.RemoveAll(r => r.Id == job.RunnerId);
            UpdateRun(job.RunId);
        }
    }

    /// <summary>
    /// A run is completed when all its jobs are, in progress once any job has started (and stays so while later jobs
    /// queue), else queued.
    /// </summary>
    private void UpdateRun(long runId)
    {
        FakeRun run = _runs.Single(r => r.Id == runId);
        List<FakeJob> jobs = [.. _jobs.Where(j => j.RunId == runId)];
        run.Status = jobs.All(j => j.Status == "completed") ? "completed"
            : run.Status == "in_progress" || jobs.Any(j => j.Status != "queued") ? "in_progress" : "queued";
        run.Conclusion = run.Status != "completed" ? null
            : jobs.Any(j => j.Conclusion == "cancelled") ? "cancelled" : jobs.Any(j => j.Conclusion == "failure") ? "failure" : "success";
        run.UpdatedAt = _time.GetUtcNow();
    }

    private async Task StartServerAsync(string listenAddress)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://{listenAddress}:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Use(Middleware);
        _app.Use(NumericPaths);
        _app.UseRouting();
        MapRoutes(_app);
        MapRunnerService(_app);
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
    }

    private string Api => BaseUrl.ToString().TrimEnd('/');

    private void MapRoutes(WebApplication app)
    {
        app.MapGet("/repos/{owner}/{repo}/actions/runs", (HttpContext ctx, string owner, string repo) =>
        {
            string? status = ctx.Request.Query["status"];
            if (status is not null && !RunStatuses.Contains(status))
            {
                return Error(ctx, 422, $"Validation Failed: status '{status}' is not one of {string.Join(", ", RunStatuses)}");
            }

            if (!FakeCreatedFilter.TryParse(ctx.Request.Query["created"], out FakeCreatedFilter created))
            {
                return Error(ctx, 422, $"Validation Failed: created '{ctx.Request.Query["created"]}' is not a date range such as >=2026-01-01T00:00:00Z");
            }

            List<FakeRun> all;
            lock (_lock)
            {
                // Newest first, as GitHub lists runs.
                all = [.. _runs.Where(r => r.Repository == $"{owner}/{repo}" && (status is null || r.Status == status || r.Conclusion == status) && created.Includes(r.CreatedAt))
                    .OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.Id)];
            }

            List<FakeRun> page = FakePaging.Page(ctx, all, LinkPath(ctx));
            return Json(ctx, new JsonObject
            {
                ["total_count"] = all.Count, ["workflow_runs"] = new JsonArray([.. page.Select(r => (JsonNode)GitHubShapes.Run(Api, r))]),
            });
        });
        app.MapGet("/repos/{owner}/{repo}/actions/runs/{runId:long}/jobs", (HttpContext ctx, string owner, string repo, long runId) =>
        {
            List<FakeJob> all;
            lock (_lock)
            {
                if (!_runs.Any(r => r.Id == runId && r.Repository == $"{owner}/{repo}"))
                {
                    return Error(ctx, 404, "Not Found");
                }

                all = [.. _jobs.Where(j => j.RunId == runId).OrderBy(j => j.Id)];
            }

            List<FakeJob> page = FakePaging.Page(ctx, all, LinkPath(ctx));
            return Json(ctx, new JsonObject { ["total_count"] = all.Count, ["jobs"] = new JsonArray([.. page.Select(j => (JsonNode)GitHubShapes.Job(Api, j))]) });
        });
        app.MapGet("/repos/{owner}/{repo}/actions/jobs/{jobId:long}", (HttpContext ctx, string owner, string repo, long jobId) =>
        {
            FakeJob? job;
            lock (_lock)
            {
                job = _jobs.FirstOrDefault(j => j.Id == jobId && j.Repository == $"{owner}/{repo}");
            }

            return job is null ? Error(ctx, 404, "Not Found") : Json(ctx, GitHubShapes.Job(Api, job));
        });

        foreach (string prefix in (string[])["/repos/{owner}/{repo}", "/orgs/{org}"])
        {
            app.MapPost(prefix + "/actions/runners/generate-jitconfig", (HttpContext ctx) => GenerateJit(ctx, Scope(ctx)));
            app.MapGet(prefix + "/actions/runners", (HttpContext ctx) =>
            {
                List<FakeRunner> all;
                lock (_lock)
                {
                    all = [.. _runners.Where(r => r.Scope == Scope(ctx)).OrderBy(r => r.Id)];
                }

                List<FakeRunner> page = FakePaging.Page(ctx, all, LinkPath(ctx));
                return Json(ctx, new JsonObject { ["total_count"] = all.Count, ["runners"] = new JsonArray([.. page.Select(r => (JsonNode)GitHubShapes.Runner(r))]) });
            });
            app.MapGet(prefix + "/actions/runners/{runnerId:long}", (HttpContext ctx, long runnerId) =>
            {
                FakeRunner? r;
                lock (_lock)
                {
                    r = _runners.FirstOrDefault(x => x.Id == runnerId && x.Scope == Scope(ctx));
                }

                return r is null ? Error(ctx, 404, "Not Found") : Json(ctx, GitHubShapes.Runner(r));
            });
            app.MapDelete(prefix + "/actions/runners/{runnerId:long}", (HttpContext ctx, long runnerId) =>
            {
                int removed;
                lock (_lock)
                {
                    removed = _runners.RemoveAll(x => x.Id == runnerId && x.Scope == Scope(ctx));
                }

                if (removed == 0)
                {
                    return Error(ctx, 404, "Not Found");
                }

                ctx.Response.StatusCode = 204;
                return Task.CompletedTask;
            });
            app.MapPost(prefix + "/actions/runners/registration-token", (HttpContext ctx) => Token(ctx, "AABF3JGZDX3P5PMEXLND6TS6FCWO6"));
            app.MapPost(prefix + "/actions/runners/remove-token", (HttpContext ctx) => Token(ctx, "AABF3JGZDX3P5PMEXLND6TS6FCWO7"));
        }

        app.MapPost("/app/installations/{installationId:long}/access_tokens", (HttpContext ctx, long installationId) =>
        {
            if (AppPublicKey is not null && !ValidJwt(ctx.Request.Headers.Authorization.ToString()))
            {
                return Error(ctx, 401, "A JSON web token could not be decoded");
            }

            string token = $"ghs_fake{installationId}_{Guid.NewGuid():N}";
            lock (_lock)
            {
                AcceptedTokens.Add(token);
            }

            return Json(ctx, new JsonObject
            {
                ["token"] = token, ["expires_at"] = (_time.GetUtcNow() + TimeSpan.FromHours(1)).ToString("yyyy-MM-ddTHH:mm:ssZ"),
                ["permissions"] = new JsonObject { ["administration"] = "write", ["actions"] = "read" },
                ["repository_selection"] = "selected",
            }, 201);
        });
    }

    private static readonly string[] RunStatuses =
    [
        "completed", "action_required", "cancelled", "failure", "neutral", "skipped", "stale", "success", "timed_out",
        "in_progress", "queued", "requested", "waiting", "pending",
    ];

    /// <summary>The request's path on GitHub's numeric form, for its Link header: /repositories/ID/… or /organizations/ID/….</summary>
    private string LinkPath(HttpContext ctx)
    {
        string path = ctx.Request.Path.Value!;
        lock (_lock)
        {
            if (ctx.Request.RouteValues.TryGetValue("org", out object? org) && org is string o)
            {
                return $"{Api}/organizations/{OrgId(o)}{path[$"/orgs/{o}".Length..]}";
            }

            string repo = $"{ctx.Request.RouteValues["owner"]}/{ctx.Request.RouteValues["repo"]}";
            return $"{Api}/repositories/{RepoId(repo)}{path[$"/repos/{repo}".Length..]}";
        }
    }

    private static string Scope(HttpContext ctx) =>
        ctx.Request.RouteValues.TryGetValue("org", out object? org) && org is string o
            ? $"orgs/{o}"
            : $"repos/{ctx.Request.RouteValues["owner"]}/{ctx.Request.RouteValues["repo"]}";

    private async Task GenerateJit(HttpContext ctx, string scope)
    {
        JsonNode? body;
        try
        {
            body = await JsonNode.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted);
        }
        catch (JsonException)
        {
            await ValidationError(ctx, "Invalid request body", "the body is not JSON");
            return;
        }

        string? name = body?["name"]?.GetValue<string>();
        JsonArray? labels = body?["labels"] as JsonArray;
        if (string.IsNullOrEmpty(name) || labels is null || labels.Count == 0 || body?["runner_group_id"] is null)
        {
            await ValidationError(ctx, "Invalid request.\n\nname, runner_group_id and labels are required", "labels must have at least 1 item");
            return;
        }

        FakeRunner runner;
        lock (_lock)
        {
            if (_runners.Any(r => r.Name == name && r.Scope == scope))
            {
                runner = null!;
            }
            else
            {
                string secret = $"jit-{Guid.NewGuid():N}";
                runner = new FakeRunner
                {
                    Id = ++_nextId, Name = name, Scope = scope, Labels = [.. labels.Select(l => l!.GetValue<string>())],
                    EncodedJitConfig = JitConfigFor(name, secret), Secret = secret,
                };
                _runners.Add(runner);
            }
        }

        if (runner is null)
        {
            await Error(ctx, 409, "Already exists - A runner with the name already exists.");
            return;
        }

        await Json(ctx, new JsonObject { ["runner"] = GitHubShapes.Runner(runner), ["encoded_jit_config"] = runner.EncodedJitConfig }, 201);
    }

    private Task Token(HttpContext ctx, string token) => Json(ctx, new JsonObject
    {
        ["token"] = token, ["expires_at"] = (_time.GetUtcNow() + TimeSpan.FromHours(1)).ToString("yyyy-MM-ddTHH:mm:ssZ"),
    }, 201);

    private bool ValidJwt(string authorization)
    {
        string jwt = authorization.Replace("Bearer ", "", StringComparison.Ordinal);
        string[] parts = jwt.Split('.');
        if (parts.Length != 3)
        {
            return false;
        }

        byte[] signature = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]);
        if (!AppPublicKey!.VerifyData(Encoding.ASCII.GetBytes(parts[0] + "." + parts[1]), signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1))
        {
            return false;
        }

        using JsonDocument payload = JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(parts[1]));
        long now = _time.GetUtcNow().ToUnixTimeSeconds();
        long iat = payload.RootElement.GetProperty("iat").GetInt64();
        long exp = payload.RootElement.GetProperty("exp").GetInt64();
        return payload.RootElement.GetProperty("iss").GetString() == AppId.ToString(CultureInfo.InvariantCulture) &&
               iat <= now && exp > now && exp - iat <= 600;
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
