using System.Diagnostics.Metrics;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Web;

/// <summary>
/// Gauges of the fleet's state for Prometheus (<c>/metrics</c>), observed from the JobStore and the config at
/// each scrape: host capacity and use, drain state, jobs per state, per-tenant use. The runner's counters and
/// histograms (transitions, queue wait, boot time) are <see cref="Telemetry.KindlingMetrics"/>.
/// </summary>
public sealed class FleetMetrics : IDisposable
{
    public const string MeterName = "Kindling.Runner.Fleet";
    private const long BytesPerMib = 1024 * 1024;

    private readonly Meter _meter;

    public FleetMetrics(FleetQueries fleet, IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _meter.CreateObservableGauge("kindling.host.vcpus", () => fleet.Host().VcpuLimit, "{vcpu}", "vCPUs the host may commit (with oversubscription)");
        _meter.CreateObservableGauge("kindling.host.vcpus.used", () => fleet.Host().UsedVcpus, "{vcpu}", "vCPUs committed to live jobs");
        _meter.CreateObservableGauge("kindling.host.memory", () => fleet.Host().MemoryMib * BytesPerMib, "By", "Memory the host gives VMs");
        _meter.CreateObservableGauge("kindling.host.memory.used", () => fleet.Host().UsedMemoryMib * BytesPerMib, "By", "Memory committed to live jobs");
        _meter.CreateObservableGauge("kindling.host.drained", () => fleet.Host().Drained ? 1 : 0, "", "1 while the host is drained (admits no jobs)");
        _meter.CreateObservableGauge("kindling.vms.running", () => fleet.Host().RunningVms, "{vm}", "Live jobs (each holds one VM)");
        _meter.CreateObservableGauge("kindling.queue.oldest_wait", () => fleet.Queue().OldestWaitSeconds ?? 0, "s", "How long the oldest queued job has waited");
        _meter.CreateObservableGauge("kindling.jobs.current", () => fleet.Overview().JobsByState.Select(kv =>
            new Measurement<int>(kv.Value, new KeyValuePair<string, object?>("state", kv.Key))), "{job}", "Jobs per state (a cleaned job counts as its result)");
        _meter.CreateObservableGauge("kindling.tenant.vms", () => fleet.Tenants().Select(t =>
            new Measurement<int>(t.Vms, Tenant(t))), "{vm}", "VMs per tenant");
        _meter.CreateObservableGauge("kindling.tenant.vms.quota", () => fleet.Tenants().Where(t => t.Configured).Select(t =>
            new Measurement<int>(t.MaxVms, Tenant(t))), "{vm}", "Quota of VMs per tenant");
        _meter.CreateObservableGauge("kindling.tenant.queued", () => fleet.Tenants().Select(t =>
            new Measurement<int>(t.Queued, Tenant(t))), "{job}", "Queued jobs per tenant");
    }

    public void Dispose() => _meter.Dispose();

    private static KeyValuePair<string, object?> Tenant(TenantView t) => new("tenant", t.Name);
}
