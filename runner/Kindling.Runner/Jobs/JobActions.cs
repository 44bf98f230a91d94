using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;

namespace Kindling.Runner.Jobs;

/// <summary>How a cancel request ended.</summary>
public enum CancelOutcome
{
    NotFound,

    /// <summary>The job was still queued and is now cancelled; a forge that keeps the queue (local) drops it.</summary>
    CancelledWhileQueued,

    /// <summary>The job runs in this process: its VM is being stopped.</summary>
    Stopping,

    AlreadyFinished,

    /// <summary>The job is live but run by another process (of one host's store): cancel it on its forge.</summary>
    NotRunHere,
}

/// <summary>How a resubmit request ended; <see cref="Resubmission.ForgeJobId"/> is set when it was submitted.</summary>
public enum ResubmitOutcome
{
    NotFound,

    /// <summary>Only a failed, cancelled or timed-out job with steps of its own (not the forge's runner) is re-run.</summary>
    NotRerunnable,

    /// <summary>The job's tenant has no local forge to take the steps.</summary>
    NoLocalForge,

    Submitted,
}

/// <summary>A cancel's outcome with the job's state after it (Queued for <see cref="CancelOutcome.NotFound"/>).</summary>
public sealed record Cancellation(CancelOutcome Outcome, JobState State);

/// <summary>A resubmit's outcome, the job it was asked for, and where the new job went.</summary>
public sealed record Resubmission(ResubmitOutcome Outcome, JobWithResult? Job, string? ForgeKind = null, string? ForgeJobId = null);

/// <summary>
/// Cancel and re-run of one job, for the admin page and API: the JobStore's transition, the VM's stop, and the
/// forge's part (a local forge drops a cancelled queued job and takes a re-run's steps) in one place.
/// </summary>
public sealed class JobActions(JobStore store, JobCancellations cancellations, JobRunner runner, ForgeRegistry forges)
{
    /// <summary>A re-run is offered for a failed, cancelled or timed-out job that ran steps of its own.</summary>
    public static bool Rerunnable(JobWithResult j)
    {
        ArgumentNullException.ThrowIfNull(j);
        return j.Result is JobState.Failed or JobState.Cancelled or JobState.TimedOut && j.Job.SpecJson is not null;
    }

    /// <summary>
    /// Cancels a queued job at once, or stops the VM of a job this process runs; on a shared store a job another host
    /// runs gets a cancel request that its host acts on at its next heartbeat.
    /// </summary>
    public async Task<Cancellation> CancelAsync(long id, string reason)
    {
        if (store.Get(id) is not { } job)
        {
            return new Cancellation(CancelOutcome.NotFound, JobState.Queued);
        }

        if (job.State == JobState.Queued)
        {
            try
            {
                store.Transition(id, JobState.Queued, JobState.Cancelled, reason);
                if (forges.TryGetLocal(job.Tenant, out LocalForge local))
                {
                    local.Cancel(job.ForgeJobId);
                }

                return new Cancellation(CancelOutcome.CancelledWhileQueued, await runner.FinishAsync(id, JobState.Cancelled, reason, null));
            }
            catch (IllegalTransitionException)
            {
                // admitted in the meantime: cancel it where it runs
            }
        }

        if (cancellations.TryCancel(id, reason))
        {
            return new Cancellation(CancelOutcome.Stopping, store.Get(id)!.State);
        }

        job = store.Get(id)!;
        if (store.IsShared && JobLifecycle.IsActive(job.State) && store.RequestCancel(id, reason))
        {
            return new Cancellation(CancelOutcome.Stopping, job.State); // its host stops the VM at its next heartbeat
        }

        return new Cancellation(
            JobLifecycle.IsFinished(job.State) || JobLifecycle.IsTerminal(job.State) ? CancelOutcome.AlreadyFinished : CancelOutcome.NotRunHere,
            job.State);
    }

    /// <summary>Submits the job's steps again as a new job (attempt history stays on the old one): a submitted job as a submitted job, another to its tenant's local forge.</summary>
    public Resubmission Resubmit(long id)
    {
        if (store.GetWithResult(id) is not { } j)
        {
            return new Resubmission(ResubmitOutcome.NotFound, null);
        }

        if (!Rerunnable(j))
        {
            return new Resubmission(ResubmitOutcome.NotRerunnable, j);
        }

        if (j.Job.Forge == SubmittedForge.KindName)
        {
            // A job given to the daemon re-runs as one: into the store again, whatever the tenant's own forge.
            JobRecord old = j.Job;
            JobRecord again = store.Enqueue(new NewJob
            {
                Tenant = old.Tenant, Forge = SubmittedForge.KindName, ForgeJobId = SubmittedForge.NewJobId(), Repository = old.Repository,
                Name = old.Name, Labels = old.Labels, SpecJson = old.SpecJson, Vcpus = old.Vcpus, MemoryMib = old.MemoryMib,
            }).Job;
            return new Resubmission(ResubmitOutcome.Submitted, j, again.Forge, again.ForgeJobId);
        }

        if (!forges.TryGetLocal(j.Job.Tenant, out LocalForge local))
        {
            return new Resubmission(ResubmitOutcome.NoLocalForge, j);
        }

        string forgeJobId = local.Submit(JobSpec.FromJson(j.Job.SpecJson!), j.Job.Labels, j.Job.Repository);
        return new Resubmission(ResubmitOutcome.Submitted, j, local.Kind, forgeJobId);
    }
}
