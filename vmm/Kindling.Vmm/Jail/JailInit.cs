using System.Globalization;
using System.Text.Json;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Jail;

/// <summary>
/// The jailed side: runs as the init of new mount/pid/IPC/UTS (and maybe network) namespaces, still root, and
/// turns itself into the confined VMM, in this order: join the cgroup, close inherited descriptors, bind the
/// runtime read-only, mount /proc, pivot_root into the chroot and detach the old root, set rlimits, clear the
/// environment, drop to the uid/gid, set no_new_privs and install the seccomp filter on every thread. Only then
/// does it call the VMM (or a debug action).
/// </summary>
public static class JailInit
{
    private const string ProcFs = "proc";
    private const int SIGKILL = 9;


    /// <summary>Enters the jail (irreversible) and runs the VMM; returns its exit code.</summary>
    public static int Run(JailInitOptions options, Func<string[], int> runVmm)
    {
        Enter(options);
        return options.DebugAction == JailDebugAction.None ? runVmm([.. options.VmmArgs]) : RunDebugAction(options.DebugAction);
    }

    /// <summary>Runs a debug action in the current process (confined or not: un-jailed runs are the baseline).</summary>
    public static int RunDebugAction(JailDebugAction action)
    {
        return action switch
        {
            JailDebugAction.Report => DebugReport(),
            JailDebugAction.Ready => DebugReady(),
            JailDebugAction.ForbiddenSyscall => DebugForbiddenSyscall(),
            JailDebugAction.Workload => JailWorkload.Run(),
            _ => throw new JailException($"unknown debug action {action}"),
        };
    }

    /// <summary>Applies every confinement step to this process.</summary>
    public static void Enter(JailInitOptions options)
    {
        foreach (string procs in options.ProcsFiles)
        {
            // The jailer usually moved this process already (JailLauncher.AdmitToCgroup), while the runtime started.
            // "0" is the writing process itself (its pid here is 1, which means nothing to the host).
            if (!IsMember(procs))
            {
                LibcJail.WriteSmallFile(procs, "0"u8);
            }
        }

        CloseInheritedDescriptors(options.KeepFds);

        string root = options.Root.TrimEnd('/');
        // unshare --propagation private did this already; repeat it so this step never depends on the launcher.
        LibcJail.Mount(null, "/", null, LibcJail.MS_REC | LibcJail.MS_PRIVATE);
        LibcJail.Mount(root, root, null, LibcJail.MS_BIND | LibcJail.MS_REC);
        // Shorter paths first, so a folder bound inside another bound folder lands on top of it.
        string[] readOnly = [.. options.ReadOnlyDirectories];
        Array.Sort(readOnly, (x, y) => x.Length.CompareTo(y.Length));
        foreach (string dir in readOnly)
        {
            BindReadOnly(dir, root + dir, writable: false);
        }

        foreach (JailResource file in options.BoundFiles)
        {
            BindReadOnly(file.HostPath, root + file.JailPath, file.Writable);
        }

        LibcJail.Mount(ProcFs, root + "/proc", ProcFs, LibcJail.MS_NOSUID | LibcJail.MS_NODEV | LibcJail.MS_NOEXEC);

        LibcJail.ChangeDirectory(root);
        // pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only the jail.
        LibcJail.PivotRoot(".", ".");
        LibcJail.Unmount(".", LibcJail.MNT_DETACH);
        LibcJail.ChangeDirectory("/");

        if (options.RlimitNoFile is { } nofile)
        {
            LibcJail.SetResourceLimit(LibcJail.RLIMIT_NOFILE, nofile, "RLIMIT_NOFILE");
        }

        if (options.RlimitFsize is { } fsize)
        {
            LibcJail.SetResourceLimit(LibcJail.RLIMIT_FSIZE, fsize, "RLIMIT_FSIZE");
        }

        ClearEnvironment();

        // glibc applies setgroups/setresgid/setresuid to every thread of the process.
        LibcJail.DropGroups();
        LibcJail.SetResGid(options.Gid);
        LibcJail.SetResUid(options.Uid);
        // The kernel clears the parent-death signal (unshare --kill-child's) when credentials change: set it
        // again, so the VMM still dies with the jail's top process.
        LibcJail.SetParentDeathSignal(SIGKILL);

        SeccompFilter.Install(options.SeccompProgram ?? SeccompFilter.BuildVmmFilter(options.SeccompLogOnly ? Bpf.SECCOMP_RET_LOG : Bpf.SECCOMP_RET_KILL_PROCESS));
    }

    /// <summary>True when this process is listed in <paramref name="procs"/> (a cgroup.procs file lists pids as its reader's namespace sees them).</summary>
    private static bool IsMember(string procs)
    {
        string self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        foreach (string line in File.ReadLines(procs))
        {
            if (line == self)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Closes descriptors above 2 that came from the launcher (not close-on-exec, so not the runtime's own) and
    /// are not in <paramref name="keep"/>.
    /// </summary>
    private static void CloseInheritedDescriptors(IReadOnlyList<int> keep)
    {
        // The descriptors still open are read after the listing is closed (the listing's own descriptor is gone).
        foreach (int fd in Kindling.Native.ProcFs.OpenDescriptors())
        {
            int flags = LibcJail.GetDescriptorFlags(fd);
            if (fd > 2 && flags >= 0 && (flags & LibcJail.FD_CLOEXEC) == 0 && !keep.Contains(fd))
            {
                LibcJail.CloseDescriptor(fd);
            }
        }
    }

    private static void BindReadOnly(string source, string target, bool writable)
    {
        LibcJail.Mount(source, target, null, LibcJail.MS_BIND | LibcJail.MS_REC);
        ulong flags = LibcJail.MS_BIND | LibcJail.MS_REMOUNT | LibcJail.MS_NOSUID | LibcJail.MS_NODEV;
        LibcJail.Mount(null, target, null, writable ? flags : flags | LibcJail.MS_RDONLY);
    }

    private static void ClearEnvironment()
    {
        // The runtime's managed copy of the environment is built from the C library's on first use.
        foreach (string variable in JailLauncher.JailEnvironment)
        {
            Environment.SetEnvironmentVariable(variable[..variable.IndexOf('=', StringComparison.Ordinal)], null);
        }

        LibcJail.ClearEnvironment();
    }

    private static int DebugReport()
    {
        Dictionary<string, object> view = new()
        {
            ["pid"] = Environment.ProcessId,
            ["root"] = Directory.EnumerateFileSystemEntries("/").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray(),
            ["dev"] = Directory.EnumerateFileSystemEntries("/dev", "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray(),
            ["status"] = File.ReadLines("/proc/self/status")
                .Where(l => l.StartsWith("Uid:", StringComparison.Ordinal) || l.StartsWith("Gid:", StringComparison.Ordinal) ||
                            l.StartsWith("Groups:", StringComparison.Ordinal) || l.StartsWith("Seccomp:", StringComparison.Ordinal) ||
                            l.StartsWith("NoNewPrivs:", StringComparison.Ordinal))
                .ToDictionary(l => l[..l.IndexOf(':', StringComparison.Ordinal)], l => l[(l.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim()),
            ["cgroup"] = File.ReadAllText("/proc/self/cgroup"),
            ["processes"] = Directory.EnumerateDirectories("/proc").Select(Path.GetFileName)
                .Where(n => n!.All(char.IsAsciiDigit)).Order(StringComparer.Ordinal).ToArray(),
            ["nofile"] = LibcJail.GetResourceLimit(LibcJail.RLIMIT_NOFILE).Current.ToString(CultureInfo.InvariantCulture),
            ["fsize"] = LibcJail.GetResourceLimit(LibcJail.RLIMIT_FSIZE).Current.ToString(CultureInfo.InvariantCulture),
            ["environment"] = Environment.GetEnvironmentVariables().Count,
            ["fds"] = JailLauncher.OpenDescriptors().Order().ToArray(),
        };
        Console.Out.WriteLine(JsonSerializer.Serialize(view, JailReportJson.Default.DictionaryStringObject));
        Console.Out.Flush();
        return WaitForStdinClose();
    }

    private static int DebugReady()
    {
        Console.Out.WriteLine("READY");
        Console.Out.Flush();
        return WaitForStdinClose();
    }

    private static int DebugForbiddenSyscall()
    {
        Console.Out.WriteLine("calling ptrace");
        Console.Out.Flush();
        LibcJail.RawSyscall(X64Syscall.ptrace);
        // Reached only when the filter failed to kill the process.
        Console.Out.WriteLine("ptrace returned: the seccomp filter did not kill this process");
        return 0;
    }

    private static int WaitForStdinClose()
    {
        using Stream stdin = Console.OpenStandardInput();
        byte[] buffer = new byte[64];
        while (stdin.Read(buffer) > 0)
        {
        }

        return 0;
    }
}
