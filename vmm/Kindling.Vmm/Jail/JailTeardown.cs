using System.Diagnostics;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Jail;

/// <summary>
/// Removes everything one jail made: its processes (the cgroup's tasks and the jail's top process), its cgroup
/// folders, its chroot tree (unmounting first, never following links out), its FIFOs and sockets, its TAP.
/// </summary>
public static class JailTeardown
{
    private static readonly TimeSpan KillTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Destroys jail <paramref name="id"/> and returns what was found; the report's Leftovers is empty on success.</summary>
    public static JailTeardownReport Destroy(string id, string chrootBase, string cgroupRoot = "/sys/fs/cgroup", string? tapName = null)
    {
        JailId.Validate(id);
        JailPaths paths = new(id, Path.GetFullPath(chrootBase));
        JailState? state = JailState.TryRead(paths.StateFile);
        cgroupRoot = state?.CgroupRoot ?? cgroupRoot;
        tapName ??= state?.TapName;
        JailCgroup cgroup = new(cgroupRoot, id);

        List<int> killed = KillAll(id, cgroup, state);
        IReadOnlyList<string> cgroups = cgroup.Remove();

        string? chroot = null;
        JailTree.Removal removal = new([], 0, 0, []);
        if (Directory.Exists(paths.JailDir))
        {
            removal = JailTree.Remove(paths.JailDir);
            chroot = paths.JailDir;
        }

        string? tap = null;
        if (tapName is not null && TapExists(tapName))
        {
            DeleteLink(tapName);
            tap = tapName;
        }

        return new JailTeardownReport
        {
            Id = id,
            KilledPids = killed,
            CgroupsRemoved = cgroups,
            ChrootRemoved = chroot,
            FilesRemoved = removal.Files,
            Unmounted = removal.Unmounted,
            FifosAndSocketsUnlinked = removal.FifosAndSockets,
            TapDeleted = tap,
            Leftovers = Verify(id, chrootBase, cgroupRoot, tapName),
        };
    }

    /// <summary>
    /// Everything of jail <paramref name="id"/> still on the host: processes in its cgroup or running its
    /// jail-init, cgroup folders, the chroot folder, the TAP. Empty when nothing is left.
    /// </summary>
    public static IReadOnlyList<string> Verify(string id, string chrootBase, string cgroupRoot = "/sys/fs/cgroup", string? tapName = null)
    {
        JailPaths paths = new(id, Path.GetFullPath(chrootBase));
        JailCgroup cgroup = new(cgroupRoot, id);
        List<string> left = [.. JailProcesses(id).Select(pid => $"process {pid} ({string.Join(' ', ProcFs.CommandLine(pid).Take(3))})")];
        left.AddRange(cgroup.Directories.Where(Directory.Exists).Select(d => $"cgroup {d}"));
        if (Directory.Exists(paths.JailDir))
        {
            left.Add($"chroot {paths.JailDir}");
        }

        if (tapName is not null && TapExists(tapName))
        {
            left.Add($"network link {tapName}");
        }

        return left;
    }

    /// <summary>Live processes of jail <paramref name="id"/>: in its cgroup (any controller) or running its jail-init.</summary>
    public static IReadOnlyList<int> JailProcesses(string id)
    {
        string marker = $"/{JailPaths.CgroupParent}/{id}\n";
        List<int> pids = [];
        foreach (int pid in ProcFs.AllPids())
        {
            if (ProcFs.StartTicks(pid) is null)
            {
                continue; // gone or a zombie
            }

            if ((ProcFs.CgroupOf(pid) + "\n").Contains(marker, StringComparison.Ordinal) || RunsJailInit(pid, id))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    internal static bool TapExists(string name) => Directory.Exists($"/sys/class/net/{name}");

    private static bool RunsJailInit(int pid, string id)
    {
        string[] argv = ProcFs.CommandLine(pid);
        int mode = Array.IndexOf(argv, JailInitOptions.Mode);
        if (mode < 0)
        {
            return false;
        }

        int idFlag = Array.IndexOf(argv, "--id", mode);
        return idFlag > 0 && idFlag + 1 < argv.Length && argv[idFlag + 1] == id;
    }

    private static List<int> KillAll(string id, JailCgroup cgroup, JailState? state)
    {
        List<int> killed = [];
        if (state is { OwnerPid: > 0 } && ProcFs.IsAlive(state.OwnerPid, state.OwnerStartTicks) && Processes.Kill(state.OwnerPid, Processes.SIGKILL))
        {
            killed.Add(state.OwnerPid);
        }

        Stopwatch clock = Stopwatch.StartNew();
        while (true)
        {
            IReadOnlyList<int> alive = [.. cgroup.Processes().Where(p => ProcFs.StartTicks(p) is not null).Union(JailProcesses(id))];
            if (alive.Count == 0)
            {
                return killed;
            }

            foreach (int pid in alive)
            {
                if (Processes.Kill(pid, Processes.SIGKILL) && !killed.Contains(pid))
                {
                    killed.Add(pid);
                }
            }

            if (clock.Elapsed > KillTimeout)
            {
                throw new JailException($"jail '{id}': processes {string.Join(", ", alive)} did not die within {KillTimeout.TotalSeconds} s of SIGKILL");
            }

            // Exiting processes leave the cgroup asynchronously; poll briefly.
            Thread.Sleep(2);
        }
    }

    private static void DeleteLink(string name)
    {
        ProcessResult ip = ProcessRunner.Run("ip", ["link", "del", name]);
        if (ip.ExitCode != 0 && TapExists(name))
        {
            throw new JailException($"deleting TAP '{name}' failed: ip link del {name}: {ip.StandardError.Trim()}");
        }
    }
}
