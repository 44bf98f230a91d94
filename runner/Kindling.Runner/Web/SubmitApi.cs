using System.Globalization;
using System.Text;
using Kindling.Runner.Http;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Web;

/// <summary>
/// <c>POST /api/jobs</c>: a job given as JSON (<see cref="SubmitRequest"/>) is queued for its tenant and goes the
/// way of every forge job (queue → admit → VM). 201 with the job and a Location to <c>GET /api/jobs/{id}</c>; with
/// the same <c>Idempotency-Key</c> again, 200 with the same job. Refusals are <c>{"fault_message": ...}</c> naming
/// the field: 400 malformed, 403 another tenant's, 413 too big, 415 not JSON, 422 no pool/quota/host could run it.
/// </summary>
public static partial class SubmitApi
{
    /// <summary>The largest body taken: far above any job's steps, far below what would hurt the daemon.</summary>
    public const int MaxBodyBytes = 1024 * 1024;
    public const string ReplayedHeader = "Idempotent-Replayed";

    public static void MapSubmitApi(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/jobs", SubmitAsync).RequireAuthorization(SubmitAuth.SubmitPolicy).AddEndpointFilter<AntiforgeryFilter>();

    /// <summary>Lets tenant tokens read this job endpoint too, for their own tenant's jobs only.</summary>
    public static RouteHandlerBuilder AllowTenantTokens(this RouteHandlerBuilder b) =>
        b.RequireAuthorization(SubmitAuth.JobReaderPolicy).AddEndpointFilter<TenantJobFilter>();

    private static async Task<IResult> SubmitAsync(
        HttpContext ctx, JobSubmissions submissions, JobDispatcher dispatcher, JobStore store, IHostApplicationLifetime lifetime, ILogger<JobSubmissions> log)
    {
        if (ctx.Request.ContentType is { } type && !type.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
        {
            return Fault(StatusCodes.Status415UnsupportedMediaType, $"Content-Type: {type} is not taken; send the job as application/json");
        }

        if (await BoundedBody.ReadAsync(ctx.Request, MaxBodyBytes, ctx.RequestAborted) is not { } bytes)
        {
            return Fault(StatusCodes.Status413PayloadTooLarge, $"the body is larger than {MaxBodyBytes} bytes; a job's steps fit in far less");
        }

        string? key = ctx.Request.Headers[JobSubmissions.IdempotencyKeyHeader] is { Count: > 0 } k ? k.ToString() : null;
        Submission s;
        try
        {
            s = submissions.Submit(SubmitBody.Parse(Encoding.UTF8.GetString(bytes)), key, SubmitAuth.TenantOf(ctx.User));
        }
        catch (SubmitRefusedException e)
        {
            return Fault(e.Refusal switch
            {
                SubmitRefusal.Forbidden => StatusCodes.Status403Forbidden,
                SubmitRefusal.Invalid => StatusCodes.Status400BadRequest,
                _ => StatusCodes.Status422UnprocessableEntity,
            }, e.Message);
        }

        string id = s.Job.Id.ToString(CultureInfo.InvariantCulture);
        if (s.Created)
        {
            (long jobId, string tenant, string name, string who) = (s.Job.Id, s.Job.Tenant, s.Job.Name, AdminPages.Who(ctx));
            LogSubmitted(log, jobId, tenant, name, who);
            dispatcher.AdmitAndStart(lifetime.ApplicationStopping); // already in the store: no forge to poll; if it does not fit now, the loop admits it when capacity frees
        }
        else
        {
            ctx.Response.Headers[ReplayedHeader] = "true";
        }

        JobRecord now = store.Get(s.Job.Id) ?? s.Job;
        ctx.Response.Headers.Location = $"/api/jobs/{id}";
        return Results.Json(
            new SubmitResponse(now.Id, now.Tenant, now.Name, JobLifecycle.Name(now.State), $"/jobs/{id}", $"/api/jobs/{id}/log", !s.Created),
            SubmitReplyJson.Default.SubmitResponse, statusCode: s.Created ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    internal static IResult Fault(int status, string message) =>
        Results.Json(new FaultResponse(message), SubmitReplyJson.Default.FaultResponse, statusCode: status);

    [LoggerMessage(Level = LogLevel.Information, Message = "job {JobId} submitted for tenant {Tenant} ({Name}) by {User}")]
    private static partial void LogSubmitted(ILogger log, long jobId, string tenant, string name, string user);
}

/// <summary>A tenant token reads its own tenant's jobs only; any other job is as if it did not exist (404).</summary>
public sealed class TenantJobFilter(JobStore store) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (SubmitAuth.TenantOf(context.HttpContext.User) is { } tenant)
        {
            object? raw = context.HttpContext.GetRouteValue("id");
            if (!long.TryParse(Convert.ToString(raw, CultureInfo.InvariantCulture), NumberStyles.None, CultureInfo.InvariantCulture, out long id) ||
                store.Get(id)?.Tenant != tenant)
            {
                return SubmitApi.Fault(StatusCodes.Status404NotFound, $"there is no job {raw} of tenant {tenant}");
            }
        }

        return await next(context);
    }
}
