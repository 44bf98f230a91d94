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
/// The runner's anonymous HTTP surface: <c>/healthz</c> and the optional GitHub webhook receiver (authenticated
/// by its signature). The admin page and API are <see cref="AdminWeb"/>.
/// </summary>
public static class RunnerEndpoints
{
    public const string SignatureHeader = "X-Hub-Signature-256";

    public static void MapRunnerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();
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
        }).AllowAnonymous(); // authenticated by the webhook signature, not by a login
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
