using Kindling.Runner.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kindling.Runner.Web;

/// <summary>
/// The JSON API over the same data as the pages (snake_case). GETs need any role; POSTs need the admin role and,
/// from a browser session, the anti-forgery header. Errors are <c>{"fault_message": ...}</c> saying what to fix.
/// </summary>
public static class AdminApi
{
    public const int DefaultLimit = 100;

    public static void MapAdminApi(this IEndpointRouteBuilder app)
    {
        RouteGroupBuilder api = app.MapGroup("/api");
        api.MapGet("/overview", (FleetQueries fleet) => Results.Json(fleet.Overview()));
        api.MapGet("/host", (FleetQueries fleet) => Results.Json(new { host = fleet.Host(), queue = fleet.Queue() }));
        api.MapGet("/jobs", (FleetQueries fleet, string? tenant, string? state, string? repo, int? limit, long? before) =>
        {
            if (!AdminPages.TryState(state, out JobState? s))
            {
                return Fault(StatusCodes.Status400BadRequest,
                    $"state '{state}' is unknown; use one of {string.Join(", ", Enum.GetValues<JobState>().Select(JobLifecycle.Name))}");
            }

            if (limit is < 1 or > FleetQueries.MaxPageSize)
            {
                return Fault(StatusCodes.Status400BadRequest, $"limit {limit} is out of range; use 1 to {FleetQueries.MaxPageSize}");
            }

            return Results.Json(fleet.Jobs(new JobSearch(tenant, s, repo, before, limit ?? DefaultLimit)));
        });
        api.MapGet("/jobs/{id:long}", (FleetQueries fleet, long id) =>
            fleet.Job(id) is { } d ? Results.Json(d) : Fault(StatusCodes.Status404NotFound, $"there is no job {id}")).AllowTenantTokens();
        api.MapGet("/jobs/{id:long}/log", AdminPages.DownloadLog).AllowTenantTokens();
        api.MapGet("/jobs/{id:long}/log/stream", AdminPages.StreamLog).AllowTenantTokens();
        api.MapGet("/vms", (FleetQueries fleet) => Results.Json(fleet.Vms()));
        api.MapGet("/tenants", (FleetQueries fleet) => Results.Json(fleet.Tenants()));
        api.MapGet("/images", (FleetQueries fleet) => Results.Json(fleet.Images()));
        api.MapHostsApi();

        RouteGroupBuilder actions = api.MapGroup("").RequireAuthorization(WebAuth.AdminPolicy).AddEndpointFilter<AntiforgeryFilter>();
        actions.MapPost("/jobs/{id:long}/cancel", async (HttpContext ctx, FleetActions a, long id) => Answer(await a.CancelAsync(id, AdminPages.Who(ctx))));
        actions.MapPost("/jobs/{id:long}/rerun", async (HttpContext ctx, FleetActions a, long id) =>
            Answer(await a.RerunAsync(id, AdminPages.Who(ctx), ctx.RequestAborted)));
        actions.MapPost("/host/drain", (HttpContext ctx, FleetActions a) => Answer(a.Drain(AdminPages.Who(ctx))));
        actions.MapPost("/host/undrain", (HttpContext ctx, FleetActions a) => Answer(a.Undrain(AdminPages.Who(ctx))));
        actions.MapPost("/host/reap", async (HttpContext ctx, FleetActions a) => Answer(await a.ReapAsync(AdminPages.Who(ctx), ctx.RequestAborted)));
    }

    /// <summary>200 with what was done, or 409 with why not (404 when the job does not exist).</summary>
    private static IResult Answer(AdminActionResult r) =>
        Results.Json(r, statusCode: r.Ok ? StatusCodes.Status200OK : r.NotFound ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict);

    private static IResult Fault(int status, string message) => Results.Json(new Dictionary<string, string> { ["fault_message"] = message }, statusCode: status);
}
