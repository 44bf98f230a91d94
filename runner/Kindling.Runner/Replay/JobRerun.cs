using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Replay;

/// <summary>The outcome of asking for a rerun: accepted with the new forge job id, or refused with the reason.</summary>
public sealed record RerunResult(bool Accepted, string? ForgeJobId, string Message);

/// <summary>
/// Reruns a recorded local job (a replay, the demo's sample) in this process: the same spec (steps, env,
/// workspace snapshot, secret recipes) submitted again to the tenant's local forge, so the dispatcher runs it in a
/// fresh VM. The admin API uses this; a replay run from a terminal is rerun with <c>kindling replay --rerun ID</c>,
/// because its secrets were given there and are never stored.
/// </summary>
public static class JobRerun
{
    public static RerunResult Resubmit(JobRecord job, ForgeRegistry forges, KindlingOptions options)
    {
        string cli = $"kindling replay --rerun {job.Id}";
        if (job.Forge != "local" || job.SpecJson is null)
        {
            return new RerunResult(false, null, $"job {job.Id} ran on {job.Forge} with the forge's own runner; rerun it on the forge");
        }

        if (!forges.TryGet(job.Tenant, out IForge forge) || forge is not LocalForge local)
        {
            return new RerunResult(false, null, $"job {job.Id} belongs to tenant {job.Tenant}, which this runner does not serve (a replay from a terminal?); run: {cli}");
        }

        JobSpec spec = JobSpec.FromJson(job.SpecJson);
        if (spec.Workspace is { } ws && !Directory.Exists(ws))
        {
            return new RerunResult(false, null, $"job {job.Id}'s workspace snapshot {ws} is gone; replay the workflow again");
        }

        TenantOptions tenant = options.Tenants.First(t => t.Name == job.Tenant);
        string[] missing = [.. spec.SecretRefs.Values.SelectMany(p => p).Select(p => p.Secret).OfType<string>().Distinct()
            .Where(s => !tenant.Secrets.ContainsKey(s)).Order(StringComparer.Ordinal)];
        if (missing.Length > 0)
        {
            return new RerunResult(false, null, $"job {job.Id} reads secret(s) {string.Join(", ", missing)}, which tenant {job.Tenant} does not configure; run: {cli} -s {string.Join(" -s ", missing)}");
        }

        string id = local.Submit(spec, job.Labels, job.Repository);
        return new RerunResult(true, id, $"job {job.Id} resubmitted as {id}");
    }
}
