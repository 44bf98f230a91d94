using Kindling.Runner.Forges;
using Kindling.Runner.Launch;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Releases everything a job holds, in an order that is safe to repeat (after a crash, or when a previous
/// attempt failed half-way): the VMM process (only if its command line still names the VM: pids get reused),
/// the TAP, the work directory with the overlay, FIFOs and socket, and the forge runner.
/// </summary>
public sealed partial class JobTeardown(
    IImageProvider images, IVmLauncher launcher, ITapManager taps, Network.IGuestNetworkService network, ForgeRegistry forges, ILogger<JobTeardown> log)
{
    public static readonly TimeSpan KillWait = TimeSpan.FromSeconds(10);

    public async Task ReleaseAsync(JobRecord job, CancellationToken ct)
    {
        if (job.VmmPid is { } pid && job.VmId is { } vmId && launcher.IsOurProcess(pid, vmId))
        {
            LogKilling(log, pid, job.Id);
            await ProcessInspector.KillAndWaitAsync(pid, KillWait);
        }

        if (job.VmId is { } vm)
        {
            await launcher.ReleaseAsync(vm, ct); // the jail's chroot and cgroup
        }

        if (job.TapName is { } tap)
        {
            await network.RemoveVmAsync(tap, ct); // its rules and elements, and its DNS listener
            await taps.DeleteAsync(tap, ct);
        }

        if (job.WorkDir is { } dir)
        {
            images.DeleteWorkFolder(dir);
        }

        if (job.RunnerId is { } runnerId && forges.TryGet(job.Tenant, out IForge forge))
        {
            await forge.RemoveRunnerAsync(job.ForgeRef(), runnerId, ct);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "killing VMM pid {Pid} of job {JobId}")]
    private static partial void LogKilling(ILogger log, int pid, long jobId);
}
