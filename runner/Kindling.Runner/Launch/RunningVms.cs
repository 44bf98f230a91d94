namespace Kindling.Runner.Launch;

/// <summary>A VMM process found in /proc.</summary>
public sealed record RunningVm(int Pid, string VmId, TimeSpan Uptime, string CommandLine);

/// <summary>The VMM processes on this host: any that carry a kindling VM id (for <c>kindling vm</c> and the admin page).</summary>
public static class RunningVms
{
    public static IReadOnlyList<RunningVm> List()
    {
        List<RunningVm> vms = [];
        double bootSeconds = ProcFs.UptimeSeconds();
        const double ticks = 100; // USER_HZ on Linux
        foreach (int pid in ProcFs.AllPids())
        {
            string[] args = ProcFs.CommandLine(pid);
            string? id = args.FirstOrDefault(a => a.StartsWith("kindling-vm-", StringComparison.Ordinal));
            if (id is not null && ProcFs.StartTicks(pid) is { } started) // null: gone while we looked
            {
                vms.Add(new RunningVm(pid, id, TimeSpan.FromSeconds(bootSeconds - (started / ticks)), string.Join(' ', args)));
            }
        }

        return vms;
    }
}
