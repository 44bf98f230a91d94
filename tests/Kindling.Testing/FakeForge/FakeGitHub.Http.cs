using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Kindling.Testing.FakeForge;

/// <summary>The fake's HTTP plumbing: faults, authentication, the primary rate limit, numeric paths, JSON and error answers.</summary>
public sealed partial class FakeGitHub
{
    private async Task Middleware(HttpContext ctx, RequestDelegate next)
    {
        string path = ctx.Request.Path.Value!;
        string? body = null;
        if (ctx.Request.ContentLength > 0 || ctx.Request.Headers.TransferEncoding.Count > 0)
        {
            ctx.Request.EnableBuffering();
            using (var reader = new StreamReader(ctx.Request.Body, Encoding.UTF8, leaveOpen: true))
            {
                body = await reader.ReadToEndAsync(ctx.RequestAborted);
            }

            ctx.Request.Body.Position = 0;
        }

        FakeForgeFault? fault;
        lock (_lock)
        {
            fault = _faults.FirstOrDefault(f => f.Times > 0 && path.Contains(f.PathContains, StringComparison.Ordinal) &&
                                                (f.Method is null || string.Equals(f.Method, ctx.Request.Method, StringComparison.OrdinalIgnoreCase)));
            if (fault is not null)
            {
                fault.Times--;
            }
        }

        try
        {
            fault?.MarkHit();
            if (fault is { Kind: FakeForgeFaultKind.Delay })
            {
                await (fault.Until is { } until ? until.WaitAsync(ctx.RequestAborted) : Task.Delay(fault.Delay, ctx.RequestAborted));
            }
            else if (fault is { Kind: FakeForgeFaultKind.Hang })
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            }

            string? auth = ctx.Request.Headers.Authorization;
            // The App endpoints and the runner service take their own credentials and no REST quota.
            bool app = ctx.Request.Path.StartsWithSegments("/app", StringComparison.Ordinal) || IsRunnerService(ctx);
            if (!app)
            {
                ctx.Response.OnStarting(() =>
                {
                    AddRateLimitHeaders(ctx, fault is { Kind: FakeForgeFaultKind.PrimaryLimit } ? 0 : null);
                    return Task.CompletedTask;
                });
            }

            if (fault is { Kind: not FakeForgeFaultKind.Delay })
            {
                await WriteFault(ctx, fault);
            }
            else if (!app && AcceptedTokens.Count > 0 &&
                     (auth is null || !AcceptedTokens.Contains(auth.Replace("Bearer ", "", StringComparison.Ordinal))))
            {
                await Error(ctx, 401, "Bad credentials");
            }
            else if (!app && LimitSpent())
            {
                // GitHub refuses every request until the reset once the primary limit is spent.
                await Error(ctx, 403, "API rate limit exceeded for installation. If you reach out to GitHub Support for help, please include the request ID.");
            }
            else
            {
                await next(ctx);
            }
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // the client gave up (timeout test): logged as nginx's 499, "client closed request"
            if (!ctx.Response.HasStarted)
            {
                ctx.Response.StatusCode = 499;
            }
        }
        finally
        {
            lock (_lock)
            {
                _requests.Add(new FakeForgeRequest(ctx.Request.Method, path, ctx.Request.QueryString.Value ?? "",
                    ctx.Response.StatusCode, ctx.Request.Headers.Authorization, ctx.Request.Headers.IfNoneMatch, _time.GetUtcNow()) { Body = body });
            }
        }
    }

    /// <summary>True while the primary limit is spent; a request after the reset starts a new window with the whole limit.</summary>
    private bool LimitSpent()
    {
        lock (_lock)
        {
            DateTimeOffset now = _time.GetUtcNow();
            if (now >= RateLimitReset)
            {
                RateLimitRemaining = RateLimitLimit;
                RateLimitReset = DateTimeOffset.FromUnixTimeSeconds((now + TimeSpan.FromHours(1)).ToUnixTimeSeconds());
            }

            return RateLimitRemaining <= 0;
        }
    }

    /// <summary>
    /// GitHub's numeric paths, which its Link headers use: <c>/repositories/ID/…</c> is <c>/repos/OWNER/REPO/…</c>
    /// and <c>/organizations/ID/…</c> is <c>/orgs/ORG/…</c>; an unknown id is a 404.
    /// </summary>
    private Task NumericPaths(HttpContext ctx, RequestDelegate next)
    {
        string[] parts = ctx.Request.Path.Value!.Split('/');
        if (parts.Length > 2 && parts[1] is "repositories" or "organizations" && long.TryParse(parts[2], CultureInfo.InvariantCulture, out long id))
        {
            string? name;
            lock (_lock)
            {
                name = (parts[1] == "repositories" ? _repoIds : _orgIds).FirstOrDefault(kv => kv.Value == id).Key;
            }

            if (name is null)
            {
                return Error(ctx, 404, "Not Found");
            }

            ctx.Request.Path = "/" + (parts[1] == "repositories" ? "repos/" : "orgs/") + name + "/" + string.Join('/', parts[3..]);
        }

        return next(ctx);
    }

    private void AddRateLimitHeaders(HttpContext ctx, int? remainingOverride)
    {
        int remaining, limit;
        DateTimeOffset reset;
        lock (_lock)
        {
            (remaining, limit, reset) = (remainingOverride ?? RateLimitRemaining, RateLimitLimit, RateLimitReset);
        }

        IHeaderDictionary h = ctx.Response.Headers;
        h["x-ratelimit-limit"] = limit.ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-remaining"] = remaining.ToString(CultureInfo.InvariantCulture);
        h["x-ratelimit-used"] = (limit - remaining).ToString(CultureInfo.InvariantCulture);
        if (!h.ContainsKey("x-ratelimit-reset"))
        {
            h["x-ratelimit-reset"] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        h["x-ratelimit-resource"] = "core";
    }

    private Task WriteFault(HttpContext ctx, FakeForgeFault fault)
    {
        if (fault.RetryAfter is { } ra)
        {
            ctx.Response.Headers.RetryAfter = fault.RetryAfterAsDate
                ? (_time.GetUtcNow() + ra).ToString("R", CultureInfo.InvariantCulture)
                : ((int)ra.TotalSeconds).ToString(CultureInfo.InvariantCulture);
        }

        if (fault.Kind == FakeForgeFaultKind.PrimaryLimit)
        {
            DateTimeOffset reset = fault.Reset ?? _time.GetUtcNow() + TimeSpan.FromMinutes(1);
            ctx.Response.Headers["x-ratelimit-reset"] = reset.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        return fault.Kind switch
        {
            FakeForgeFaultKind.TooManyRequests => Error(ctx, 429, "API rate limit exceeded"),
            FakeForgeFaultKind.SecondaryLimit => Error(ctx, 403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."),
            FakeForgeFaultKind.PrimaryLimit => Error(ctx, fault.Status is 429 ? 429 : 403, "API rate limit exceeded for installation."),
            _ => Error(ctx, fault.Status, "Server Error"),
        };
    }

    /// <summary>422 in GitHub's <c>validation-error-simple</c> shape (no <c>status</c> member; <c>errors</c> as strings).</summary>
    private static Task ValidationError(HttpContext ctx, string message, params string[] errors)
    {
        ctx.Response.StatusCode = 422;
        ctx.Response.ContentType = "application/json; charset=utf-8";
        return ctx.Response.WriteAsync(new JsonObject
        {
            ["message"] = message,
            ["documentation_url"] = "https://docs.github.com/rest",
            ["errors"] = new JsonArray([.. errors.Select(e => (JsonNode)JsonValue.Create(e))]),
        }.ToJsonString());
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
        if (body is JsonObject o)
        {
            Tamper?.Invoke(ctx, o);
        }

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
}
