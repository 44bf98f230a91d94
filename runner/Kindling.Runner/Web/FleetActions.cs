using System.Globalization;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Web;

/// <summary>
/// What an admin may do from the page or the API: cancel a job, drain/undrain the host, re-run a failed job, reap
/// leftovers. Each action says what it did in one sentence and is logged with who asked.
/// </summary>
public sealed partial class FleetActions(
    JobStore store, JobActions jobs, JobDispatcher dispatcher, JobReaper reaper, HostDrain drain, IHostApplicationLifetime lifetime, ILogger<FleetActions> log)
{
    public async Task<AdminActionResult> CancelAsync(long id, string by)
    {
        LogJobAction(log, "cancel", id, by);
        Cancellation c = await jobs.CancelAsync(id, $"cancelled by {by} on the admin page");
        return c.Outcome switch
        {
            CancelOutcome.NotFound => new AdminActionResult(false, $"there is no job {Job(id)}", NotFound: true),
            CancelOutcome.CancelledWhileQueued => new AdminActionResult(true, $"job {Job(id)} was queued and is now cancelled", id),
            CancelOutcome.Stopping => new AdminActionResult(true, $"job {Job(id)} is being cancelled: its VM is stopped", id),
            CancelOutcome.AlreadyFinished => new AdminActionResult(false, $"job {Job(id)} has already finished", id),
            _ => new AdminActionResult(false, $"job {Job(id)} is {JobLifecycle.Name(c.State)} but not run by this process; cancel it on its forge", id),
        };
    }

    public AdminActionResult Drain(string by)
    {
        LogAction(log, "drain", "host", by);
        if (drain.IsDrained)
        {
            return new AdminActionResult(true, "the host was already drained");
        }

        drain.Drain(by);
        return new AdminActionResult(true, "the host is drained: running jobs finish, queued jobs wait until it is undrained");
    }

    public AdminActionResult Undrain(string by)
    {
        LogAction(log, "undrain", "host", by);
        drain.Undrain();
        dispatcher.Wake();
        dispatcher.AdmitAndStart(lifetime.ApplicationStopping);
        return new AdminActionResult(true, "the host takes jobs again");
    }

    /// <summary>Submits the job's steps again as a new job (attempt history stays on the old one).</summary>
    public async Task<AdminActionResult> RerunAsync(long id, string by, CancellationToken ct)
    {
        LogJobAction(log, "re-run", id, by);
        Resubmission r = jobs.Resubmit(id);
        switch (r.Outcome)
        {
            case ResubmitOutcome.NotFound:
                return new AdminActionResult(false, $"there is no job {Job(id)}", NotFound: true);
            case ResubmitOutcome.NotRerunnable:
                return new AdminActionResult(false, r.Job!.Job.SpecJson is null
                    ? $"job {Job(id)} runs the forge's own runner: re-run it on the forge"
                    : $"job {Job(id)} is {JobLifecycle.Name(r.Job.Result)}; only failed, cancelled or timed-out jobs are re-run", id);
            case ResubmitOutcome.NoLocalForge:
                return new AdminActionResult(false, $"tenant {r.Job!.Job.Tenant} has no local forge to submit the re-run to", id);
        }

        JobRecord old = r.Job!.Job;
        await dispatcher.PollTenantAsync(old.Tenant, ct);
        if (store.FindByForgeJob(r.ForgeKind!, r.ForgeJobId!) is not { } rerun)
        {
            return new AdminActionResult(false, $"the re-run of job {Job(id)} was submitted but no pool serves its labels ({string.Join(", ", old.Labels)})", id);
        }

        dispatcher.AdmitAndStart(lifetime.ApplicationStopping);
        return new AdminActionResult(true, $"job {Job(id)} re-runs as job {Job(rerun.Id)}", rerun.Id);
    }

    public async Task<AdminActionResult> ReapAsync(string by, CancellationToken ct)
    {
        LogAction(log, "reap", "host", by);
        await reaper.ReapPeriodicAsync(new HashSet<long>(dispatcher.ActiveJobs), ct);
        return new AdminActionResult(true, "leftovers reaped: unfinished teardowns retried, orphaned work directories, TAPs and forge runners removed");
    }

    private static string Job(long id) => "#" + id.ToString(CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Information, Message = "admin action {Action} on {Target} by {User}")]
    private static partial void LogAction(ILogger log, string action, string target, string user);

    [LoggerMessage(Level = LogLevel.Information, Message = "admin action {Action} on job {JobId} by {User}")]
    private static partial void LogJobAction(ILogger log, string action, long jobId, string user);
}
