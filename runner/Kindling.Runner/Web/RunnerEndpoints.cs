using Kindling.Runner.Forges.GitHub;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

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
        app.MapPost("/webhooks/github", (HttpContext ctx, JobDispatcher dispatcher) => GitHubWebhook.HandleAsync(ctx, dispatcher.Wake))
            .AllowAnonymous(); // authenticated by the webhook signature, not by a login
    }
}
