using System.Globalization;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Cli;

/// <summary><c>kindling vm list|kill</c>: the VMM processes on this host (any that carry a kindling VM id).</summary>
public static class VmCommands
{
    /// <summary>Kills the VM with this id or pid; false when none matched.</summary>
    public static async Task<bool> KillAsync(string idOrPid)
    {
        RunningVm? vm = RunningVms.List().FirstOrDefault(v => v.VmId == idOrPid || v.Pid.ToString(CultureInfo.InvariantCulture) == idOrPid);
        if (vm is null)
        {
            return false;
        }

        await ProcessInspector.KillAndWaitAsync(vm.Pid, TimeSpan.FromSeconds(5));
        return true;
    }
}
