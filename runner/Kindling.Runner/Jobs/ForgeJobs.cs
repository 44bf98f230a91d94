using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;

namespace Kindling.Runner.Jobs;

/// <summary>What a forge is told about a job: the runner's records translated into the forge's own terms.</summary>
public static class ForgeJobs
{
    /// <summary>The job as its forge knows it.</summary>
    public static ForgeJobRef ForgeRef(this JobRecord job) => new(job.ForgeJobId, job.Repository, job.Id);

    /// <summary>The outcome to report for a finished state; null for a state that is not an outcome.</summary>
    public static ForgeJobResult? ForgeResult(JobState state) => state switch
    {
        JobState.Succeeded => ForgeJobResult.Succeeded,
        JobState.Failed => ForgeJobResult.Failed,
        JobState.Cancelled => ForgeJobResult.Cancelled,
        JobState.TimedOut => ForgeJobResult.TimedOut,
        _ => null,
    };

    /// <summary>Queues a job's steps on a local forge; returns its forge job id.</summary>
    public static string Submit(this LocalForge forge, JobSpec spec, IReadOnlyList<string> labels, string repository = "local")
    {
        ArgumentNullException.ThrowIfNull(forge);
        ArgumentNullException.ThrowIfNull(spec);
        return forge.Submit(spec.Name, spec.ToJson(), labels, repository);
    }
}
