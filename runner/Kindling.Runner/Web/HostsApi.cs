using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Kindling.Runner.Web;

/// <summary>A host of the fleet as <c>GET /api/hosts</c> lists it.</summary>
/// <param name="HeartbeatAgeSeconds">How long ago its last heartbeat was.</param>
/// <param name="RunningVms">Jobs it holds that are preparing, booting or running.</param>
public sealed record FleetHostView(
    string Name, string State, bool This, int Vcpus, int MemoryMib, string Version, IReadOnlyList<string> Labels,
    DateTimeOffset StartedAt, DateTimeOffset HeartbeatAt, double HeartbeatAgeSeconds, int RunningVms, string? DrainedBy, string? Detail);

/// <summary>This host's view of the job database: its kind, where it is, and why it does not admit (null when it does).</summary>
public sealed record StoreStatusView(string Kind, string Where, bool Admitting, string? Problem);

/// <summary><c>GET /api/hosts</c>: this host's database status and every host of the fleet.</summary>
public sealed record FleetHostsView(string ThisHost, StoreStatusView Store, IReadOnlyList<FleetHostView> Hosts);

/// <summary>The fleet's hosts over the JSON API (any role may read).</summary>
public static class HostsApi
{
    public static void MapHostsApi(this RouteGroupBuilder api)
    {
        ArgumentNullException.ThrowIfNull(api);
        MapList(api);
        // Drain or undrain any host of the fleet through the store: it stops (or resumes) admitting at its next heartbeat.
        RouteGroupBuilder actions = api.MapGroup("").RequireAuthorization(WebAuth.AdminPolicy).AddEndpointFilter<AntiforgeryFilter>();
        actions.MapPost("/hosts/{name}/drain", (HttpContext ctx, JobStore store, TimeProvider time, string name) =>
            SetDrain(store, name, $"{AdminPages.Who(ctx)} at {time.GetUtcNow():u}"));
        actions.MapPost("/hosts/{name}/undrain", (JobStore store, string name) => SetDrain(store, name, null));
    }

    private static IResult SetDrain(JobStore store, string name, string? by) => store.SetHostDrain(name, by)
        ? Results.Json(new Dictionary<string, object?> { ["host"] = name, ["drained_by"] = by })
        : Results.Json(new Dictionary<string, string> { ["fault_message"] = $"there is no host '{name}' in the fleet; GET /api/hosts lists them" }, statusCode: StatusCodes.Status404NotFound);

    private static void MapList(RouteGroupBuilder api) => api.MapGet("/hosts", (JobStore store, FleetMembership fleet, FleetHealth health, TimeProvider time) =>
    {
        var status = new StoreStatusView(store.Dialect.Kind, store.DatabasePath, health.CanAdmit, health.Problem);
        try
        {
            DateTimeOffset now = time.GetUtcNow();
            Dictionary<string, int> running = store.ListByState(JobState.Preparing, JobState.Booting, JobState.Running)
                .Where(j => j.Host is not null).GroupBy(j => j.Host!).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
            return Results.Json(new FleetHostsView(fleet.HostName, status, [.. store.Hosts().Select(h => new FleetHostView(
                h.Name, h.State, h.Name == fleet.HostName, h.Vcpus, h.MemoryMib, h.Version, h.Labels, h.StartedAt, h.HeartbeatAt,
                Math.Round((now - h.HeartbeatAt).TotalSeconds, 1), running.GetValueOrDefault(h.Name), h.DrainedBy, h.Detail))]));
        }
        catch (Exception e) when (FleetHealth.IsStoreFailure(e))
        {
            return Results.Json(
                new Dictionary<string, object?> { ["fault_message"] = $"the job database {store.DatabasePath} does not answer ({e.Message}); this host admits no jobs until it does", ["store"] = status },
                statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    });
}
