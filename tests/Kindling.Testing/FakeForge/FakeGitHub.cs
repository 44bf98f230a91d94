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
/// status codes, rate-limit headers and ETags. Faults can be injected; every request is logged.
/// </summary>
public sealed class FakeGitHub : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly List<FakeRun> _runs = [];
    private readonly List<FakeJob> _jobs = [];
    private readonly List<FakeRunner> _runners = [];
    private readonly List<FakeForgeFault> _faults = [];
    private readonly List<FakeForgeRequest> _requests = [];
    private readonly Dictionary<string, long> _repoIds = [];
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

    public DateTimeOffset RateLimitReset { get; set; } = DateTimeOffset.FromUnixTimeSeconds(4_000_000_000);

    public static async Task<FakeGitHub> StartAsync(TimeProvider? time = null)
    {
        var fake = new FakeGitHub(time);
        await fake.StartServerAsync();
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
        lock (_lock)
        {
            if (!_repoIds.TryGetValue(repository, out long repoId))
            {
                _repoIds[repository] = repoId = ++_nextId;
            }

            var run = new FakeRun { Id = ++_nextId, Repository = repository, RepositoryId = repoId, CreatedAt = _time.GetUtcNow() };
            var job = new FakeJob { Id = ++_nextId, RunId = run.Id, Repository = repository, Name = name, Labels = labels, CreatedAt = _time.GetUtcNow() };
            _runs.Add(run);
            _jobs.Add(job);
            return job;
        }
    }

    /// <summary>GitHub hands the job to a runner (as when a JIT runner connects).</summary>
    public void AssignJob(long jobId, string runnerName)
    {
        lock (_lock)
        {
            FakeJob job = _jobs.Single(j => j.Id == jobId);
            FakeRunner? runner = _runners.FirstOrDefault(r => r.Name == runnerName);
            job.Status = "in_progress";
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
            job.Conclusion = conclusion;
            _runners.RemoveAll(r => r.Id == job.RunnerId);
            UpdateRun(job.RunId);
        }
    }

    private void UpdateRun(long runId)
    {
        FakeRun run = _runs.Single(r => r.Id == runId);
        List<FakeJob> jobs = [.. _jobs.Where(j => j.RunId == runId)];
        run.Status = jobs.All(j => j.Status == "completed") ? "completed" : jobs.Any(j => j.Status == "in_progress") ? "in_progress" : "queued";
        run.Conclusion = run.Status == "completed" ? jobs.Any(j => j.Conclusion == "cancelled") ? "cancelled" : "success" : null;
    }

    private async Task StartServerAsync()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.Use(Middleware);
        MapRoutes(_app);
        await _app.StartAsync();
        string address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = new Uri(address.EndsWith('/') ? address : address + "/");
    }

    private async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        FakeForgeFault? fault;
        lock (_lock)
        {
            fault = _faults.FirstOrDefault(f => f.Times > 0 && ctx.Request.Path.Value!.Contains(f.PathContains, StringComparison.Ordinal) &&
                                                (f.Method is null || string.Equals(f.Method, ctx.Request.Method, StringComparison.OrdinalIgnoreCase)));
            if (fault is not null)
            {
                fault.Times--;
            }
        }

        try
        {
            if (fault is { Kind: FakeForgeFaultKind.Delay })
            {
                await (fault.Until is { } until ? until.WaitAsync(ctx.RequestAborted) : Task.Delay(fault.Delay, ctx.RequestAborted));
            }

            string? auth = ctx.Request.Headers.Authorization;
            if (fault is { Kind: not FakeForgeFaultKind.Delay })
            {
                await WriteFault(ctx, fault);
            }
            else if (!ctx.Request.Path.StartsWithSegments("/app", StringComparison.Ordinal) && AcceptedTokens.Count > 0 &&
                     (auth is null || !AcceptedTokens.Contains(auth.Replace("Bearer ", "", StringComparison.Ordinal))))
            {
                await Error(ctx, 401, "Bad credentials");
            }
            else
            {
                AddRateLimitHeaders(ctx);
                await next(ctx);
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // the client gave up (timeout test)
        }
        finally
        {
            lock (_lock)
            {
                _requests.Add(new FakeForgeRequest(ctx.Request.Method, ctx.Request.Path.Value!, ctx.Request.QueryString.Value ?? "",
                    ctx.Response.StatusCode, ctx.Request.Headers.Authorization, ctx.Request.Headers.IfNoneMatch, _time.GetUtcNow()));
            }
        }
    }

    private void AddRateLimitHeaders(HttpContext ctx)
    {
        int remaining;
        lock (_lock)
        {
            remaining = RateLimitRemaining;
        }

        ctx.Response.Headers["x-ratelimit-limit"] = "5000";
        ctx.Response.Headers["x-ratelimit-remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        ctx.Response.Headers["x-ratelimit-used"] = (5000 - remaining).ToString(CultureInfo.InvariantCulture);
        ctx.Response.Headers["x-ratelimit-reset"] = RateLimitReset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        ctx.Response.Headers["x-ratelimit-resource"] = "core";
    }

    private static Task WriteFault(HttpContext ctx, FakeForgeFault fault)
    {
        if (fault.RetryAfter is { } ra)
        {
            ctx.Response.Headers.RetryAfter = ((int)ra.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        return fault.Kind switch
        {
            FakeForgeFaultKind.TooManyRequests => Error(ctx, 429, "API rate limit exceeded"),
            FakeForgeFaultKind.SecondaryLimit => Error(ctx, 403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
            _ => Error(ctx, fault.Status, "Server Error"),
        };
    }

    private static Task Error(HttpContext ctx, int status, string message)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(new JsonObject
        {
            ["message"] = message,
            ["documentation_url"] = "https://docs.github.com/rest",
            ["status"] = status.ToString(CultureInfo.InvariantCulture),
        }.ToJsonString());
    }

    /// <summary>Writes JSON; for GETs with a matching If-None-Match answers 304 (no body, no quota used).</summary>
    private Task Json(HttpContext ctx, JsonNode body, int status = 200)
    {
        string text = body.ToJsonString();
        if (HttpMethods.IsGet(ctx.Request.Method))
        {
            string etag = "\"" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..32] + "\"";
            ctx.Response.Headers.ETag = etag;
            if (ctx.Request.Headers.IfNoneMatch == etag || ctx.Request.Headers.IfNoneMatch == "W/" + etag)
            {
                ctx.Response.StatusCode = 304;
                return Task.CompletedTask;
            }
        }

        lock (_lock)
        {
            if (RateLimitRemaining > 0)
            {
                RateLimitRemaining--;
            }
        }

        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(text);
    }

    private string Api => BaseUrl.ToString().TrimEnd('/');

    private void MapRoutes(WebApplication app)
    {
        app.MapGet("/repos/{owner}/{repo}/actions/runs", (HttpContext ctx, string owner, string repo) =>
        {
            string? status = ctx.Request.Query["status"];
            JsonArray runs;
            lock (_lock)
            {
                runs = new JsonArray([.. _runs.Where(r => r.Repository == $"{owner}/{repo}" && (status is null || r.Status == status))
                    .Select(r => (JsonNode)GitHubShapes.Run(Api, r))]);
            }

            return Json(ctx, new JsonObject { ["total_count"] = runs.Count, ["workflow_runs"] = runs });
        });
        app.MapGet("/repos/{owner}/{repo}/actions/runs/{runId:long}/jobs", (HttpContext ctx, string owner, string repo, long runId) =>
        {
            JsonArray jobs;
            lock (_lock)
            {
                jobs = new JsonArray([.. _jobs.Where(j => j.RunId == runId && j.Repository == $"{owner}/{repo}").Select(j => (JsonNode)GitHubShapes.Job(Api, j))]);
            }

            return Json(ctx, new JsonObject { ["total_count"] = jobs.Count, ["jobs"] = jobs });
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
                JsonArray list;
                lock (_lock)
                {
                    list = new JsonArray([.. _runners.Where(r => r.Scope == Scope(ctx)).Select(r => (JsonNode)GitHubShapes.Runner(r))]);
                }

                return Json(ctx, new JsonObject { ["total_count"] = list.Count, ["runners"] = list });
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
            await Error(ctx, 422, "Invalid request body");
            return;
        }

        string? name = body?["name"]?.GetValue<string>();
        JsonArray? labels = body?["labels"] as JsonArray;
        if (string.IsNullOrEmpty(name) || labels is null || labels.Count == 0 || body?["runner_group_id"] is null)
        {
            await Error(ctx, 422, "Invalid request.\n\nname, runner_group_id and labels are required");
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
                runner = new FakeRunner
                {
                    Id = ++_nextId, Name = name, Scope = scope, Labels = [.. labels.Select(l => l!.GetValue<string>())],
                    EncodedJitConfig = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\".runner\":\"{name}\",\"secret\":\"jit-{Guid.NewGuid():N}\"}}")),
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
