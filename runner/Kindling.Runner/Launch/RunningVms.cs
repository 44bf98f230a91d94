using System.Globalization;
using System.Text;

namespace Kindling.Runner.Launch;

/// <summary>A VMM process found in /proc.</summary>
public sealed record RunningVm(int Pid, string VmId, TimeSpan Uptime, string CommandLine);

/// <summary>The VMM processes on this host: any that carry a kindling VM id (for <c>kindling vm</c> and the admin page).</summary>
public static class RunningVms
{
    public static IReadOnlyList<RunningVm> List()
    {
        List<RunningVm> vms = [];
        double bootSeconds = double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);
        long ticks = 100; // USER_HZ on Linux
        foreach (string dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }

            try
            {
                string[] args = Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(dir, "cmdline"))).Split('\0', StringSplitOptions.RemoveEmptyEntries);
                string? id = args.FirstOrDefault(a => a.StartsWith("kindling-vm-", StringComparison.Ordinal));
                if (id is null)
                {
                    continue;
                }

                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                double started = double.Parse(fields[19], CultureInfo.InvariantCulture) / ticks;
                vms.Add(new RunningVm(pid, id, TimeSpan.FromSeconds(bootSeconds - started), string.Join(' ', args)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // the process went away while we looked
            }
        }

        return vms;
    }
}
