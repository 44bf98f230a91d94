using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kindling.Runner.Configuration;
using Kindling.Runner.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// GitHub's webhook deliveries on an anonymous endpoint: the body is bounded before it is read (413 from
/// <c>Content-Length</c> at once, or as soon as a chunked body passes the bound), the signature is checked before
/// the body is parsed (401), and a signed body that is not a <c>workflow_job</c> event GitHub would send is a 400,
/// never a 500.
/// </summary>
public static class GitHubWebhook
{
    public const string SignatureHeader = "X-Hub-Signature-256";
    public const string EventHeader = "X-GitHub-Event";
    public const string WorkflowJobEventName = "workflow_job";

    /// <summary>
    /// The <c>/webhooks/github</c> endpoint: 404 unless Forge:GitHub:WebhookSecretEnv names a set variable; a queued job
    /// is noted on every GitHub forge (its run may be older than the polled window) and <paramref name="wake"/> is
    /// called for queued and completed jobs (the poll confirms them: the webhook is only a fast path).
    /// </summary>
    public static Task<IResult> HandleAsync(HttpContext ctx, Action wake)
    {
        GitHubOptions gh = ctx.RequestServices.GetRequiredService<IOptions<KindlingOptions>>().Value.Forge.GitHub;
        string? secret = gh.WebhookSecretEnv is { } env ? Environment.GetEnvironmentVariable(env) : null;
        if (string.IsNullOrEmpty(secret))
        {
            return Task.FromResult(Results.NotFound());
        }

        ForgeRegistry forges = ctx.RequestServices.GetRequiredService<ForgeRegistry>();
        return ReceiveAsync(ctx, secret, gh.WebhookMaxBodyBytes, ev =>
        {
            if (ev.Action == "queued")
            {
                foreach (GitHubForge forge in forges.All.OfType<GitHubForge>())
                {
                    forge.NoteQueuedJob(ev.Repository.FullName, ev.WorkflowJob.RunId);
                }
            }

            if (ev.Action is "queued" or "completed")
            {
                wake();
            }
        });
    }

    /// <summary>Answers one delivery; <paramref name="onJob"/> sees each verified <c>workflow_job</c> event.</summary>
    public static async Task<IResult> ReceiveAsync(HttpContext ctx, string secret, long maxBodyBytes, Action<WorkflowJobEvent> onJob)
    {
        byte[]? body = await BoundedBody.ReadAsync(ctx.Request, maxBodyBytes, ctx.RequestAborted);
        if (body is null)
        {
            return TooLarge(maxBodyBytes);
        }

        if (!WebhookSignature.Verify(secret, body, ctx.Request.Headers[SignatureHeader]))
        {
            return Fault(StatusCodes.Status401Unauthorized,
                $"the {SignatureHeader} header is missing or does not match the body; set the webhook's secret to the one in Forge:GitHub:WebhookSecretEnv");
        }

        if (ctx.Request.Headers[EventHeader] != WorkflowJobEventName)
        {
            return Results.NoContent(); // ping and other events: nothing to do
        }

        WorkflowJobEvent? ev;
        try
        {
            ev = JsonSerializer.Deserialize(body, GitHubJson.Default.WorkflowJobEvent);
        }
        catch (JsonException e)
        {
            return Fault(StatusCodes.Status400BadRequest, $"the body is not a workflow_job event: {e.Message}");
        }

        if (ev?.Action is null || ev.WorkflowJob is null || ev.Repository?.FullName is null)
        {
            return Fault(StatusCodes.Status400BadRequest, "the body is not a workflow_job event: action, workflow_job and repository.full_name are required");
        }

        onJob(ev);
        return Results.Accepted();
    }

    private static IResult TooLarge(long max) =>
        Fault(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {max} bytes (Forge:GitHub:WebhookMaxBodyBytes); subscribe the webhook to workflow_job events only");

    private static IResult Fault(int status, string message) =>
        Results.Json(new Dictionary<string, string> { ["fault_message"] = message }, statusCode: status);
}

/// <summary>GitHub's webhook signature: <c>sha256=</c> + hex HMAC-SHA256 of the raw body with the secret.</summary>
public static class WebhookSignature
{
    public static string Compute(string secret, ReadOnlySpan<byte> body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    public static bool Verify(string secret, ReadOnlySpan<byte> body, string? header) =>
        header is not null && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Compute(secret, body)), Encoding.ASCII.GetBytes(header));
}
