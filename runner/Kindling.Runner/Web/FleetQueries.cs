using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Scheduling;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>Reads the fleet's state for the admin page and the JSON API (the JobStore, the config, /proc). Changes nothing.</summary>
public sealed class FleetQueries(
    IOptions<KindlingOptions> options, JobStore store, HostDrain drain, JobCancellations cancellations, IImageProvider images, TimeProvider time,
    Network.IGuestNetworkService? network = null, IVmLauncher? launcher = null, Launch.Snapshots.WarmPool? warm = null)
{
    /// <summary>How many recent admissions the queue-wait figures are computed over.</summary>
    public const int QueueWaitSamples = 50;
    public const int RecentJobs = 10;
    public const int MaxPageSize = 500;

    private static readonly JobState[] Live = [JobState.Preparing, JobState.Booting, JobState.Running];

    public OverviewView Overview()
    {
        IReadOnlyList<JobRecord> live = store.ListByState(Live);
        return new OverviewView(
            Host(live), Queue(), store.CountByResult().ToDictionary(kv => JobLifecycle.Name(kv.Key), kv => kv.Value),
            Tenants(live), [.. store.Search(new JobSearch(Limit: RecentJobs)).Select(JobView.From)])
        {
            Snapshots = (launcher as Launch.Snapshots.WarmStarts)?.Store.List(),
            WarmPools = warm is { Enabled: true } ? warm.Status() : null,
        };
    }

    public HostView Host() => Host(store.ListByState(Live));

    public QueueView Queue()
    {
        IReadOnlyList<JobRecord> queued = store.ListByState(JobState.Queued);
        double? oldest = queued.Count == 0 ? null : (time.GetUtcNow() - queued.Min(j => j.CreatedAt)).TotalSeconds;
        double[] waits = [.. store.RecentQueueWaits(QueueWaitSamples).Select(w => Math.Max(0, w.TotalSeconds)).Order()];
        return new QueueView(queued.Count, oldest, waits.Length == 0 ? null : waits[waits.Length / 2], waits.Length == 0 ? null : waits[^1], waits.Length);
    }

    public IReadOnlyList<TenantView> Tenants() => Tenants(store.ListByState(Live));

    public IReadOnlyList<JobView> Jobs(JobSearch search) =>
        [.. store.Search(search with { Limit = Math.Clamp(search.Limit, 1, MaxPageSize) }).Select(JobView.From)];

    public JobDetailView? Job(long id)
    {
        if (store.GetWithResult(id) is not { } j)
        {
            return null;
        }

        KindlingOptions o = options.Value;
        List<StepView> steps = [.. store.Steps(id).Select(s => new StepView(s.Number, s.Name, s.ExitCode, s.Seconds, s.Skipped, false, s.StartedAt, s.EndedAt, s.Outcome))];
        if (j.Job.SpecJson is { } json && !JobLifecycle.IsFinished(j.Result) && !JobLifecycle.IsTerminal(j.Result))
        {
            // Steps the guest has not reached yet, by name from the spec (never its commands: they may quote secrets).
            IReadOnlyList<StepSpec> spec = JobSpec.FromJson(json).Steps;
            steps.AddRange(spec.Select((s, n) => (s, n)).Where(x => steps.All(r => r.Number != x.n)).Select(x => new StepView(x.n, x.s.Name, null, null, false, true)));
        }

        string? log = j.Job.LogPath ?? JobWorkspace.LogPath(o.StateDirectory, id);
        long? logBytes = File.Exists(log) ? new FileInfo(log).Length : null;
        return new JobDetailView(
            JobView.From(j), j.Job.RunnerName, j.Job.VmmPid, j.Job.TapName,
            [.. store.Transitions(id).Select(t => new TransitionView(t.At, t.From is { } f ? JobLifecycle.Name(f) : null, JobLifecycle.Name(t.To), t.Reason))],
            [.. steps.OrderBy(s => s.Number)], ReadVmConfig(JobWorkspace.VmConfigRecordPath(o.StateDirectory, id)), logBytes,
            Cancellable(j.Job), Rerunnable(j),
            j.Job.SpecJson is not null && !JobLifecycle.IsFinished(j.Result) && !JobLifecycle.IsTerminal(j.Result))
        {
            Phases = JobPhases.Load(JobPhases.PathFor(o.StateDirectory, id)),
        };
    }

    /// <summary>The job's log file when it exists.</summary>
    public string? LogPath(long id)
    {
        string path = store.Get(id)?.LogPath ?? JobWorkspace.LogPath(options.Value.StateDirectory, id);
        return File.Exists(path) ? path : null;
    }

    public IReadOnlyList<VmView> Vms()
    {
        // By pid and VM id together: another runner on this host (another state directory) numbers its VMs too.
        Dictionary<int, JobRecord> byPid = store.ListByState(Live).Where(j => j.VmmPid is not null).ToDictionary(j => j.VmmPid!.Value);
        // One nft listing for every VM's address, policy and counters (a table that cannot be read shows none).
        Dictionary<string, Network.GuestVmStatus> byTap = [];
        try
        {
            byTap = (network?.StatusAsync(CancellationToken.None).GetAwaiter().GetResult() ?? []).ToDictionary(s => s.TapName);
        }
        catch (IOException)
        {
        }

        return [.. RunningVms.List().OrderBy(v => v.VmId, StringComparer.Ordinal).Select(v =>
        {
            JobRecord? job = byPid.GetValueOrDefault(v.Pid) is { } j && j.VmId == v.VmId ? j : null;
            return new VmView(v.VmId, v.Pid, Math.Max(0, v.Uptime.TotalSeconds), job?.Id, job?.Tenant, job?.Vcpus, job?.MemoryMib, ResidentKib(v.Pid))
            {
                Network = job?.TapName is { } tap ? byTap.GetValueOrDefault(tap) : null,
            };
        })];
    }

    public IReadOnlyList<ImageFile> Images() => images.List();

    /// <summary>A job that can still be stopped: queued, or live in this process.</summary>
    public bool Cancellable(JobRecord job) =>
        job.State == JobState.Queued || (JobLifecycle.IsActive(job.State) && cancellations.IsRegistered(job.Id));

    /// <summary>A job that ended badly and whose steps we have (a GitHub job is re-run on GitHub).</summary>
    public static bool Rerunnable(JobWithResult j) => JobActions.Rerunnable(j);

    private HostView Host(IReadOnlyList<JobRecord> live)
    {
        HostOptions h = options.Value.Host;
        var capacity = new HostCapacity(h.Vcpus, h.MemoryMib, h.Oversubscription);
        return new HostView(h.Vcpus, capacity.VcpuLimit, h.MemoryMib, h.Oversubscription, live.Sum(j => j.Vcpus), live.Sum(j => j.MemoryMib), live.Count,
            drain.IsDrained, drain.Detail);
    }

    private List<TenantView> Tenants(IReadOnlyList<JobRecord> live)
    {
        Dictionary<string, int> queued = store.ListByState(JobState.Queued).GroupBy(j => j.Tenant).ToDictionary(g => g.Key, g => g.Count());
        List<TenantView> tenants = [.. options.Value.Tenants.Select(t =>
        {
            JobRecord[] mine = [.. live.Where(j => j.Tenant == t.Name)];
            return new TenantView(t.Name, t.Forge.Kind, t.Forge.Repositories, t.Forge.Organization, CredentialKind(t), [.. t.Secrets.Keys.Order()],
                t.Weight, t.Quota.MaxVms, t.Quota.Vcpus, t.Quota.MemoryMib, mine.Length, mine.Sum(j => j.Vcpus), mine.Sum(j => j.MemoryMib),
                queued.GetValueOrDefault(t.Name), Configured: true);
        })];
        foreach (string gone in store.TenantsWithJobs().Where(n => tenants.All(t => t.Name != n)))
        {
            JobRecord[] mine = [.. live.Where(j => j.Tenant == gone)];
            tenants.Add(new TenantView(gone, "?", [], null, "not configured", [], 0, 0, 0, 0, mine.Length, mine.Sum(j => j.Vcpus), mine.Sum(j => j.MemoryMib),
                queued.GetValueOrDefault(gone), Configured: false));
        }

        return tenants;
    }

    private static string CredentialKind(TenantOptions t)
    {
        CredentialOptions c = t.Credentials;
        return t.Forge.Kind == "local" ? "none (local forge)"
            : c.AppId is { } app ? $"GitHub App {app.ToString(CultureInfo.InvariantCulture)}"
            : c.TokenEnv is { } env ? $"token from ${env}"
            : c.TokenFile is not null ? "token from a file"
            : c.Token is not null ? "inline token" : "none";
    }

    private static JsonObject? ReadVmConfig(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path)) as JsonObject;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long? ResidentKib(int pid) => ProcFs.StatusKilobytes(pid, "VmRSS");
}
