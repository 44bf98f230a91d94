using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.GitHub;
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
    public const string SignatureHeader = GitHubWebhook.SignatureHeader;

    public static void MapRunnerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Text("ok")).AllowAnonymous();
        app.MapPost("/webhooks/github", (HttpContext ctx, IOptions<KindlingOptions> o, JobDispatcher dispatcher, ForgeRegistry forges) =>
        {
            GitHubOptions gh = o.Value.Forge.GitHub;
            string? secret = gh.WebhookSecretEnv is { } env ? Environment.GetEnvironmentVariable(env) : null;
            if (string.IsNullOrEmpty(secret))
            {
                return Task.FromResult(Results.NotFound());
            }

            return GitHubWebhook.ReceiveAsync(ctx, secret, gh.WebhookMaxBodyBytes, ev =>
            {
                if (ev.Action == "queued")
                {
                    // The run may be older than the polled window: mark it for the next poll.
                    foreach (GitHubForge forge in forges.All.OfType<GitHubForge>())
                    {
                        forge.NoteQueuedJob(ev.Repository.FullName, ev.WorkflowJob.RunId);
                    }
                }

                if (ev.Action is "queued" or "completed")
                {
                    dispatcher.Wake(); // the poll confirms it: the webhook is only a fast path
                }
            });
        }).AllowAnonymous(); // authenticated by the webhook signature, not by a login
    }
}

