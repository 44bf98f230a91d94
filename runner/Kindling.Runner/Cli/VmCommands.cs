using System.Globalization;
using System.Text;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Cli;

/// <summary>A VMM process found in /proc.</summary>
public sealed record RunningVm(int Pid, string VmId, TimeSpan Uptime, string CommandLine);

/// <summary><c>kindling vm list|kill</c>: the VMM processes on this host (any that carry a kindling VM id).</summary>
public static class VmCommands
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

    /// <summary>Kills the VM with this id or pid; false when none matched.</summary>
    public static async Task<bool> KillAsync(string idOrPid)
    {
        RunningVm? vm = List().FirstOrDefault(v => v.VmId == idOrPid || v.Pid.ToString(CultureInfo.InvariantCulture) == idOrPid);
        if (vm is null)
        {
            return false;
        }

        await ProcessInspector.KillAndWaitAsync(vm.Pid, TimeSpan.FromSeconds(5));
        return true;
    }
}
