using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Cleans up after a crash, at start-up and then periodically.
/// <list type="bullet">
/// <item>preparing/booting from a previous run: leftovers released, the job goes back to <b>queued</b> (no guest
/// code ran; running it again is safe, and its forge job is still waiting).</item>
/// <item>running from a previous run: the VM is killed and the job <b>failed</b> ("runner restarted while the job
/// ran") — a job that already had side effects is never silently run twice.</item>
/// <item>finished but not cleaned: teardown is retried until it succeeds, then <b>cleaned</b>.</item>
/// <item>orphans: work directories and TAPs of no live job, jails of no live or still-tearing-down job whose VMM
/// is gone, and forge runners named kindling-* of no job that is live or still being torn down.</item>
/// <item>warm slots (<see cref="WarmPool"/>): VMs and folders under <c>STATE/warm</c> that no slot of this process
/// holds, and <c>ktw</c> TAPs that neither a slot nor a job (which took a slot: its record names the TAP) holds.</item>
/// </list>
/// </summary>
public sealed partial class JobReaper(
    IOptions<KindlingOptions> options, JobStore store, JobTeardown teardown, JobRunner runner, ForgeRegistry forges,
    ITapManager taps, IVmLauncher launcher, Network.IGuestNetworkService network, ILogger<JobReaper> log, WarmPool? warm = null)
{
    /// <summary>
    /// Start-up pass: nothing of this process is running yet, so every non-terminal job of this host is a leftover
    /// (on a shared store: the jobs this host holds; other hosts' jobs are theirs, or taken over when they die).
    /// </summary>
    public async Task ReapAfterRestartAsync(CancellationToken ct)
    {
        try
        {
            await network.StartAsync(ct); // the guest network's table, before any VM needs it
        }
        catch (Network.NetworkSetupException e)
        {
            LogNetworkUnavailable(log, e.Message); // each job then fails while preparing, with the same message
        }

        string host = options.Value.EffectiveHostName;
        foreach (JobRecord job in store.ListMine(host, JobState.Preparing, JobState.Booting))
        {
            try
            {
                await teardown.ReleaseAsync(job, ct);
                store.Transition(job.Id, job.State, JobState.Queued, $"re-queued: the runner restarted while the job was {JobLifecycle.Name(job.State)} (no guest code had run)");
                LogRequeued(log, job.Id);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogReapFailed(log, e, job.Id);
                TryFail(job, $"the runner restarted while {JobLifecycle.Name(job.State)} and its leftovers could not be released: {e.Message}");
            }
        }

        foreach (JobRecord job in store.ListMine(host, JobState.Running))
        {
            await runner.FinishAsync(job.Id, JobState.Failed, "the runner restarted while the job was running; its VM was stopped", null);
        }

        // What is still running in this host's work directories now belongs to no job of this process: on a shared
        // store, the jobs the fleet took over while this host was dead (failed or re-queued there, their VMs left here).
        foreach (int pid in ProcessInspector.WorkingUnder(Path.Combine(options.Value.StateDirectory, "jobs")))
        {
            LogOrphan(log, "VM process", pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
            await ProcessInspector.KillAndWaitAsync(pid, JobTeardown.KillWait);
        }

        await ReapPeriodicAsync(new HashSet<long>(), ct);
    }

    /// <summary>
    /// Periodic pass; <paramref name="activeJobs"/> are jobs this process is running now (left alone). The forge
    /// runner sweep skips <paramref name="unavailableTenants"/> (forges that are failing now: it would only wait
    /// out their retries) until they answer again.
    /// </summary>
    public async Task ReapPeriodicAsync(IReadOnlySet<long> activeJobs, CancellationToken ct, IReadOnlySet<string>? unavailableTenants = null)
    {
        // On a shared store only this host's jobs: another host tears down its own, and a dead host's are taken over.
        foreach (JobRecord job in store.ListMine(options.Value.EffectiveHostName, JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.TimedOut))
        {
            if (!activeJobs.Contains(job.Id))
            {
                await runner.FinishAsync(job.Id, job.State, "retry teardown", job.ExitCode);
            }
        }

        // What warm slots hold, read before the jobs: a job that takes a slot records its TAP before the pool lets go.
        (IReadOnlySet<string> Taps, IReadOnlySet<string> VmIds, IReadOnlySet<string> _) slots = warm?.Held() ?? (new HashSet<string>(), new HashSet<string>(), new HashSet<string>());
        if (warm is not null)
        {
            foreach (string removed in await warm.ReapLeftoversAsync())
            {
                LogOrphan(log, "leftover of", removed);
            }
        }

        IReadOnlyList<JobRecord> liveJobs = store.ListByState(JobState.Preparing, JobState.Booting, JobState.Running);
        HashSet<long> live = [.. liveJobs.Select(j => j.Id), .. activeJobs];
        string jobsDir = Path.Combine(options.Value.StateDirectory, "jobs");
        if (Directory.Exists(jobsDir))
        {
            foreach (string dir in Directory.GetDirectories(jobsDir))
            {
                if (long.TryParse(Path.GetFileName(dir), out long id) && !live.Contains(id))
                {
                    Directory.Delete(dir, recursive: true);
                    LogOrphan(log, "work directory", dir);
                }
            }
        }

        await ReapTapsAsync([.. live.Select(GuestNetwork.TapNameFor), .. liveJobs.Select(j => j.TapName).OfType<string>(), .. slots.Taps], ct);

        // A finished job's runner and jail are not orphans: its teardown (this process's, or the retry above)
        // removes them, and removing them here as well races that teardown.
        IReadOnlyList<JobRecord> notCleaned = store.ListByState(
            JobState.Preparing, JobState.Booting, JobState.Running, JobState.Succeeded, JobState.Failed, JobState.Cancelled, JobState.TimedOut);
        HashSet<string> liveVms = [.. notCleaned.Select(j => j.VmId).OfType<string>(), .. activeJobs.Select(JobWorkspace.VmId), .. slots.VmIds];
        try
        {
            foreach (string removed in await launcher.ReapOrphansAsync(liveVms, ct))
            {
                LogOrphan(log, "jail", removed);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogJailReapFailed(log, e);
        }

        HashSet<string> liveRunners = [.. notCleaned.Select(j => j.RunnerName).OfType<string>()];
        foreach (IForge forge in forges.All.Where(f => unavailableTenants?.Contains(f.Tenant) != true))
        {
            try
            {
                foreach (ForgeRunner r in await forge.ListRunnersAsync(ct))
                {
                    if (RunnerNames.IsOurs(r.Name) && !liveRunners.Contains(r.Name))
                    {
                        await forge.RemoveRunnerAsync(r.Id, ct);
                        LogOrphan(log, "forge runner", r.Name);
                    }
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogForgeUnavailable(log, e, forge.Tenant);
            }
        }
    }

    /// <summary>
    /// TAPs of no live job, and their guest network elements, except another runner's on this machine (its own reaper
    /// looks after them). The elements are listed before the TAPs: an element another runner adds after its TAP has
    /// its alias, so the one look at the TAPs that follows sees that TAP as the other runner's.
    /// </summary>
    private async Task ReapTapsAsync(HashSet<string> liveTaps, CancellationToken ct)
    {
        IReadOnlyList<string>? elements = null;
        try
        {
            elements = await network.ListTapsAsync(ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogNetworkReapFailed(log, e);
        }

        TapListing found = taps.List();
        foreach (string tap in found.Ours.Where(t => !liveTaps.Contains(t)))
        {
            await taps.DeleteAsync(tap, ct);
            LogOrphan(log, "TAP", tap);
        }

        if (elements is null)
        {
            return;
        }

        HashSet<string> others = [.. found.Others];
        try
        {
            foreach (string tap in elements.Where(t => !liveTaps.Contains(t) && !others.Contains(t)))
            {
                await network.RemoveVmAsync(tap, ct);
                LogOrphan(log, "guest network elements of", tap);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogNetworkReapFailed(log, e);
        }
    }

    private void TryFail(JobRecord job, string reason)
    {
        try
        {
            store.Transition(job.Id, job.State, JobState.Failed, reason);
        }
        catch (IllegalTransitionException)
        {
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "job {JobId} re-queued after a runner restart")]
    private static partial void LogRequeued(ILogger log, long jobId);

    [LoggerMessage(Level = LogLevel.Error, Message = "could not reap job {JobId}")]
    private static partial void LogReapFailed(ILogger log, Exception e, long jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "removed orphaned {What} {Name}")]
    private static partial void LogOrphan(ILogger log, string what, string name);

    [LoggerMessage(Level = LogLevel.Error, Message = "guest network unavailable: {Reason}")]
    private static partial void LogNetworkUnavailable(ILogger log, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "orphan sweep: removing guest network leftovers failed")]
    private static partial void LogNetworkReapFailed(ILogger log, Exception e);

    [LoggerMessage(Level = LogLevel.Error, Message = "orphan sweep: reaping jails failed")]
    private static partial void LogJailReapFailed(ILogger log, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "orphan sweep skipped for tenant {Tenant}: forge unavailable")]
    private static partial void LogForgeUnavailable(ILogger log, Exception e, string tenant);
}
