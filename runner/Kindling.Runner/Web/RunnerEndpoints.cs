using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>
/// The runner's HTTP surface until the admin page (issue 8) lands: <c>/healthz</c> (anonymous),
/// <c>/api/jobs</c> (admin token when one is configured) and the optional GitHub webhook receiver.
/// </summary>
public static class RunnerEndpoints
{
    public const string SignatureHeader = "X-Hub-Signature-256";

    public static void MapRunnerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/api/jobs", (HttpContext ctx, JobStore store, IOptions<KindlingOptions> o, string? tenant, string? state, int? limit) =>
        {
            if (!Authorized(ctx, o.Value))
            {
                return Results.Unauthorized();
            }

            JobState? s = state is null ? null : JobLifecycle.Parse(state);
            return Results.Json(store.List(tenant, s, Math.Clamp(limit ?? 100, 1, 1000)).Select(j => new
            {
                j.Id, j.Tenant, j.Forge, forge_job_id = j.ForgeJobId, j.Repository, j.Name, j.Labels, state = JobLifecycle.Name(j.State),
                j.Attempt, created_at = j.CreatedAt, updated_at = j.UpdatedAt, exit_code = j.ExitCode, vm_id = j.VmId,
            }));
        });
        app.MapPost("/webhooks/github", async (HttpContext ctx, IOptions<KindlingOptions> o, JobDispatcher dispatcher) =>
        {
            string? secret = o.Value.Forge.GitHub.WebhookSecretEnv is { } env ? Environment.GetEnvironmentVariable(env) : null;
            if (string.IsNullOrEmpty(secret))
            {
                return Results.NotFound();
            }

            using var buffer = new MemoryStream();
            await ctx.Request.Body.CopyToAsync(buffer, ctx.RequestAborted);
            byte[] body = buffer.ToArray();
            if (!WebhookSignature.Verify(secret, body, ctx.Request.Headers[SignatureHeader]))
            {
                return Results.Unauthorized();
            }

            if (ctx.Request.Headers["X-GitHub-Event"] != "workflow_job")
            {
                return Results.NoContent();
            }

            WorkflowJobEvent? ev = JsonSerializer.Deserialize(body, GitHubJson.Default.WorkflowJobEvent);
            if (ev?.Action is "queued" or "completed")
            {
                dispatcher.Wake(); // the poll confirms it: the webhook is only a fast path
            }

            return Results.Accepted();
        });
    }

    internal static bool Authorized(HttpContext ctx, KindlingOptions o)
    {
        string? token = o.Web.AdminToken ?? (o.Web.AdminTokenEnv is { } env ? Environment.GetEnvironmentVariable(env) : null);
        if (string.IsNullOrEmpty(token))
        {
            return true; // no token configured: the listener is loopback-only by default
        }

        string presented = ctx.Request.Headers.Authorization.ToString().Replace("Bearer ", "", StringComparison.Ordinal);
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(token));
    }
}

/// <summary>GitHub's webhook signature: <c>sha256=</c> + hex HMAC-SHA256 of the raw body with the secret.</summary>
public static class WebhookSignature
{
    public static string Compute(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static bool Verify(string secret, ReadOnlySpan<byte> body, string? header) =>
        header is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Compute(secret, body)), Encoding.ASCII.GetBytes(header));
}
