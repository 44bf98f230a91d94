using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Kindling.Runner.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>POST /api/jobs/{id}/rerun</c> for the admin page: 202 <c>{"forge_job_id": …}</c> when the job was resubmitted,
/// 404 when there is no such job, 409 <c>{"fault_message": …}</c> naming why not (and the CLI command that can).
/// </summary>
public static class ReplayEndpoints
{
    public static void MapReplayEndpoints(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/jobs/{id:long}/rerun", (long id, HttpContext ctx, JobStore store, ForgeRegistry forges, JobDispatcher dispatcher, IOptions<KindlingOptions> o) =>
        {
            if (!RunnerEndpoints.Authorized(ctx, o.Value))
            {
                return Results.Unauthorized();
            }

            if (store.Get(id) is not { } job)
            {
                return Results.Json(new Dictionary<string, string> { ["fault_message"] = $"there is no job {id}" }, statusCode: StatusCodes.Status404NotFound);
            }

            RerunResult r = JobRerun.Resubmit(job, forges, o.Value);
            if (!r.Accepted)
            {
                return Results.Json(new Dictionary<string, string> { ["fault_message"] = r.Message }, statusCode: StatusCodes.Status409Conflict);
            }

            dispatcher.Wake();
            return Results.Json(new Dictionary<string, string> { ["forge_job_id"] = r.ForgeJobId!, ["message"] = r.Message }, statusCode: StatusCodes.Status202Accepted);
        });
}
