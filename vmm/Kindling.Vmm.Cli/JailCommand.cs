using System.Globalization;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Cli;

/// <summary>
/// <c>kindling-vmm jail ...</c> (build the jail and exec into it; or --destroy / --reap) and the internal
/// <c>kindling-vmm jail-init ...</c> mode that runs inside the namespaces. Program.cs calls <see cref="TryRun(string[], out int)"/>
/// first; the VMM's own entry point is wired through <see cref="RunVmm"/>.
/// </summary>
public static class JailCommand
{
    public const string Verb = "jail";

    /// <summary>Runs a jail debug action without any jail: the baseline for startup measurements.</summary>
    public const string DebugVerb = "jail-debug";

    private const string Usage =
        "usage: kindling-vmm jail --id ID --uid UID --gid GID [--chroot-base DIR] [--cgroup-root DIR] [--netns PATH] [--tap NAME]\n" +
        "         [--file HOST:JAIL[:rw]]... [--fifo JAILPATH]... [--dir JAILPATH]... [--cpu-quota-us N] [--cpu-period-us N]\n" +
        "         [--memory-bytes N] [--pids-max N] [--cpus LIST] [--rlimit-nofile N] [--rlimit-fsize N] [--keep-fd FD]...\n" +
        "         [--allow-missing-kvm] [--debug Report|Ready|ForbiddenSyscall|Workload] [--seccomp-log] [--exec-file PATH] [-- VMM-ARGS...]\n" +
        "       kindling-vmm jail --destroy --id ID [--chroot-base DIR] [--tap NAME]\n" +
        "       kindling-vmm jail --reap [--chroot-base DIR]";

    /// <summary>The VMM's entry point, called inside the jail with the arguments after "--".</summary>
    public static Func<string[], int> RunVmm { get; set; } = _ =>
    {
        Console.Error.WriteLine("kindling-vmm: jail-init: no VMM entry point is wired (JailCommand.RunVmm)");
        return 2;
    };

    /// <summary>Handles "jail" and "jail-init"; false (and exit code 0) for any other command line.</summary>
    public static bool TryRun(string[] args, out int exitCode)
    {
        exitCode = 0;
        if (args.Length == 0 || args[0] is not (Verb or JailInitOptions.Mode or DebugVerb))
        {
            return false;
        }

        try
        {
            exitCode = args[0] switch
            {
                Verb => RunJail(args),
                DebugVerb when args.Length == 2 && JailInitOptions.ParseDebugAction(args[1]) is { } action => JailInit.RunDebugAction(action),
                DebugVerb => throw new JailException("usage: kindling-vmm jail-debug Report|Ready|Workload|ForbiddenSyscall"),
                _ => JailInit.Run(JailInitOptions.Parse(args), RunVmm),
            };
        }
        catch (Exception e) when (e is JailException or JailSyscallException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"kindling-vmm: {args[0]}: {e.Message}");
            exitCode = 1;
        }

        return true;
    }

    private static int RunJail(string[] args)
    {
        string? id = null;
        string chrootBase = "/srv/jailer", cgroupRoot = "/sys/fs/cgroup";
        uint? uid = null, gid = null;
        string? netns = null, tap = null, cpus = null, execFile = null;
        List<JailResource> files = [];
        List<string> fifos = [], dirs = ["/run"];
        List<int> keep = [];
        long? quota = null, memory = null, pids = null;
        long period = 100_000;
        ulong? nofile = 2048, fsize = null;
        bool requireKvm = true, destroy = false, reap = false, seccompLog = false;
        JailDebugAction debug = JailDebugAction.None;
        List<string> vmmArgs = [];
        int i = 1;
        string Next(string flag) => i + 1 < args.Length ? args[++i] : throw new JailException($"{flag} needs a value\n{Usage}");
        long Number(string flag) => long.TryParse(Next(flag), NumberStyles.None, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new JailException($"{flag} '{args[i]}' is not a non-negative integer");
        for (; i < args.Length; i++)
        {
            string flag = args[i];
            if (flag == "--")
            {
                vmmArgs.AddRange(args.Skip(i + 1));
                break;
            }

            switch (flag)
            {
                case "--id": id = Next(flag); break;
                case "--uid": uid = checked((uint)Number(flag)); break;
                case "--gid": gid = checked((uint)Number(flag)); break;
                case "--chroot-base": chrootBase = Next(flag); break;
                case "--cgroup-root": cgroupRoot = Next(flag); break;
                case "--netns": netns = Next(flag); break;
                case "--tap": tap = Next(flag); break;
                case "--file": files.Add(ParseFile(Next(flag))); break;
                case "--fifo": fifos.Add(Next(flag)); break;
                case "--dir": dirs.Add(Next(flag)); break;
                case "--cpu-quota-us": quota = Number(flag); break;
                case "--cpu-period-us": period = Number(flag); break;
                case "--memory-bytes": memory = Number(flag); break;
                case "--pids-max": pids = Number(flag); break;
                case "--cpus": cpus = Next(flag); break;
                case "--rlimit-nofile": nofile = (ulong)Number(flag); break;
                case "--rlimit-fsize": fsize = (ulong)Number(flag); break;
                case "--keep-fd": keep.Add(checked((int)Number(flag))); break;
                case "--allow-missing-kvm": requireKvm = false; break;
                case "--seccomp-log": seccompLog = true; break;
                case "--exec-file": execFile = Next(flag); break;
                case "--destroy": destroy = true; break;
                case "--reap": reap = true; break;
                case "--debug":
                    string value = Next(flag);
                    debug = Enum.TryParse(value, ignoreCase: true, out JailDebugAction action)
                        ? action
                        : throw new JailException($"unknown --debug action '{value}'\n{Usage}");
                    break;
                default: throw new JailException($"unknown argument '{flag}'\n{Usage}");
            }
        }

        if (reap)
        {
            foreach (JailTeardownReport report in JailReaper.Reap(chrootBase, cgroupRoot))
            {
                Console.Out.WriteLine(Describe(report));
            }

            return 0;
        }

        if (destroy)
        {
            JailTeardownReport report = JailTeardown.Destroy(JailId.Validate(id), chrootBase, cgroupRoot, tap);
            Console.Out.WriteLine(Describe(report));
            return report.Leftovers.Count == 0 ? 0 : 1;
        }

        JailLauncher.Exec(new JailSpec
        {
            Id = id ?? throw new JailException($"--id is required\n{Usage}"),
            Uid = uid ?? throw new JailException("--uid is required: the unprivileged user the VMM runs as"),
            Gid = gid ?? throw new JailException("--gid is required: the unprivileged group the VMM runs as"),
            ChrootBase = chrootBase,
            CgroupRoot = cgroupRoot,
            NetNsPath = netns,
            TapName = tap,
            Resources = files,
            Fifos = fifos,
            Directories = dirs,
            Limits = new JailCgroupLimits { CpuQuotaMicros = quota, CpuPeriodMicros = period, MemoryBytes = memory, PidsMax = pids, Cpus = cpus },
            RlimitNoFile = nofile,
            RlimitFsize = fsize,
            KeepFds = keep,
            RequireKvm = requireKvm,
            DebugAction = debug,
            SeccompLogOnly = seccompLog,
            VmmArgs = vmmArgs,
            AppPath = execFile,
        });
        return 1; // Exec returns only by throwing.
    }

    private static JailResource ParseFile(string value)
    {
        string[] parts = value.Split(':');
        return parts switch
        {
            [var host, var jail] => new JailResource(host, jail),
            [var host, var jail, "rw"] => new JailResource(host, jail, Writable: true),
            [var host, var jail, "ro"] => new JailResource(host, jail),
            _ => throw new JailException($"--file '{value}' must be HOST:JAIL or HOST:JAIL:rw"),
        };
    }

    private static string Describe(JailTeardownReport r) =>
        $"jail {r.Id}: killed [{string.Join(' ', r.KilledPids)}], cgroups removed {r.CgroupsRemoved.Count}, " +
        $"chroot {(r.ChrootRemoved is null ? "absent" : "removed")} ({r.FilesRemoved} files, {r.FifosAndSocketsUnlinked.Count} fifos/sockets, {r.Unmounted.Count} unmounted), " +
        $"tap {r.TapDeleted ?? "none"}; left: {(r.Leftovers.Count == 0 ? "nothing" : string.Join(", ", r.Leftovers))}";
}
