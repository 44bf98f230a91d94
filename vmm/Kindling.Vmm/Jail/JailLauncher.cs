using System.Diagnostics;
using System.Runtime.InteropServices;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Jail;

/// <summary>
/// The jailer's side (root, on the host): builds the chroot and the cgroup, then starts
/// <c>unshare --mount --pid --ipc --uts [--net=NS] --fork --kill-child -- kindling-vmm jail-init ...</c> (a
/// self-contained build; a native one is started from its copy in the chroot) or <c>... -- dotnet kindling-vmm.dll jail-init ...</c>
/// (framework-dependent; see <see cref="JailRuntime"/>).
/// The process inside joins the cgroup, pivots into the chroot, drops to the uid/gid and installs the seccomp
/// filter (<see cref="JailInit"/>) before any guest code runs.
/// </summary>
/// <remarks>
/// A .NET process has threads from its first instruction, so it cannot unshare its own mount namespace or fork
/// without exec: the namespaces come from util-linux unshare, which execs the runtime afresh inside them.
/// A native build needs no folder of the host. For the managed layouts the runtime's folders (the app folder, and for a
/// framework-dependent build the dotnet folder) are bound read-only (nosuid, nodev)
/// at their host paths inside the jail's own mount namespace, so the runtime keeps loading assemblies after
/// pivot_root and nothing is mounted on the host (the mounts die with the namespace).
/// </remarks>
public static class JailLauncher
{
    public const string UnsharePath = "/usr/bin/unshare";

    /// <summary>The only environment the jailed runtime gets: no diagnostics IPC socket in the host's /tmp.</summary>
    public static readonly IReadOnlyList<string> JailEnvironment = ["DOTNET_EnableDiagnostics=0"];

    /// <summary>Builds the jail on the host. On any failure nothing of this id is left behind.</summary>
    public static JailInitOptions Prepare(JailSpec spec)
    {
        string id = JailId.Validate(spec.Id);
        if (LibcJail.EffectiveUserId() != 0)
        {
            throw new JailException("the jailer must run as root (it creates device nodes, cgroups and namespaces)");
        }

        if (spec.RequireKvm && KvmProblem(spec.KvmDevicePath) is { } kvm)
        {
            throw new JailException(kvm);
        }

        JailPaths paths = new(id, Path.GetFullPath(spec.ChrootBase));
        JailCgroup cgroup = new(spec.CgroupRoot, id);
        if (cgroup.Exists)
        {
            throw AlreadyExists(id, paths);
        }

        string execDir = Path.GetDirectoryName(paths.JailDir)!;
        bool createdExecDir = !Directory.Exists(execDir);
        try
        {
            Directory.CreateDirectory(execDir);
            LibcJail.MakeDirectory(paths.JailDir, 0x1c0);
        }
        catch (JailSyscallException e) when (e.Errno == Libc.EEXIST)
        {
            throw AlreadyExists(id, paths);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JailSyscallException)
        {
            RemoveIfEmpty(execDir, createdExecDir);
            throw new JailException($"the chroot base '{spec.ChrootBase}' is not writable ({e.Message}); give --chroot-base a folder on a writable file system", e);
        }

        bool cgroupCreated = false;
        try
        {
            ChrootBuilder builder = new(paths, spec.Uid, spec.Gid);
            builder.CreateRoot();
            builder.CreateDevices();
            builder.CreateMountPoint("/proc");
            foreach (string dir in spec.Directories)
            {
                builder.CreateJailDirectory(dir);
            }

            foreach (string fifo in spec.Fifos)
            {
                builder.CreateFifo(fifo);
            }

            JailRuntime runtime = Runtime(spec);
            if (runtime.IsNative)
            {
                builder.PlaceExecutable(runtime.Files[0]);
            }

            // The runtime's libraries (native: glibc's), then OpenSSL; one placement per jail path.
            IEnumerable<JailResource> files = spec.Resources.Concat(runtime.Files.Skip(runtime.IsNative ? 1 : 0)).Concat(CryptographyFiles())
                .DistinctBy(r => r.JailPath, StringComparer.Ordinal);
            foreach (JailResource resource in files)
            {
                builder.LinkResource(resource);
            }

            IReadOnlyList<string> runtimeDirs = runtime.ReadOnlyDirectories;
            foreach (string dir in runtimeDirs)
            {
                builder.CreateMountPoint(dir);
            }

            cgroup.Create(spec.Limits);
            cgroupCreated = true;
            new JailState
            {
                Id = id,
                TapName = spec.TapName,
                CgroupDirectories = cgroup.Directories,
                CgroupRoot = spec.CgroupRoot,
            }.Write(paths.StateFile);

            return new JailInitOptions
            {
                Id = id,
                Root = paths.RootDir,
                Uid = spec.Uid,
                Gid = spec.Gid,
                ProcsFiles = cgroup.ProcsFiles,
                ReadOnlyDirectories = runtimeDirs,
                BoundFiles = builder.BoundFiles,
                RlimitNoFile = spec.RlimitNoFile,
                RlimitFsize = spec.RlimitFsize,
                KeepFds = spec.KeepFds,
                DebugAction = spec.DebugAction,
                SeccompLogOnly = spec.SeccompLogOnly,
                SeccompProgram = SeccompFilter.BuildVmmFilter(spec.SeccompLogOnly ? Bpf.SECCOMP_RET_LOG : Bpf.SECCOMP_RET_KILL_PROCESS),
                VmmArgs = spec.VmmArgs,
            };
        }
        catch (Exception e)
        {
            if (cgroupCreated)
            {
                cgroup.Remove();
            }

            JailTree.Remove(paths.JailDir);
            RemoveIfEmpty(execDir, createdExecDir);
            if (e is JailException)
            {
                throw;
            }

            throw new JailException($"building the jail '{id}' under {paths.JailDir} failed: {e.Message}", e);
        }
    }

    /// <summary>The full command line (argv[0] first) that starts the jailed process.</summary>
    public static IReadOnlyList<string> Command(JailSpec spec, JailInitOptions init)
    {
        List<string> argv = [UnsharePath, "--mount", "--pid", "--ipc", "--uts"];
        if (spec.NetNsPath is { } netns)
        {
            argv.Add("--net=" + netns);
        }

        // A native kindling-vmm is started from its copy in the chroot, as Firecracker's jailer starts firecracker.
        JailRuntime runtime = Runtime(spec);
        IReadOnlyList<string> program = runtime.IsNative ? [init.Root + JailRuntime.NativeJailPath] : runtime.Command;
        argv.AddRange(["--fork", "--kill-child", "--propagation", "private", "--", .. program]);
        argv.AddRange(init.ToArgs());
        return argv;
    }

    /// <summary>
    /// Builds the jail and starts the jailed process as a child of this one (the runner's path: no second
    /// runtime start for the jailer). Standard streams are redirected when asked.
    /// </summary>
    public static Process Start(JailSpec spec, bool redirectStandardStreams = false)
    {
        JailInitOptions init = Prepare(spec);
        IReadOnlyList<string> argv = Command(spec, init);
        ProcessStartInfo start = new(argv[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = redirectStandardStreams,
            RedirectStandardOutput = redirectStandardStreams,
            RedirectStandardError = redirectStandardStreams,
        };
        foreach (string arg in argv.Skip(1))
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (string variable in JailEnvironment)
        {
            int eq = variable.IndexOf('=', StringComparison.Ordinal);
            start.Environment[variable[..eq]] = variable[(eq + 1)..];
        }

        JailPaths paths = new(init.Id, Path.GetFullPath(spec.ChrootBase));
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new JailException($"{UnsharePath} did not start");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or JailException)
        {
            JailTeardown.Destroy(init.Id, spec.ChrootBase);
            throw new JailException($"starting {UnsharePath} for jail '{init.Id}' failed: {e.Message}; install util-linux", e);
        }

        RecordOwner(paths, process.Id);
        AdmitToCgroup(process.Id, init.ProcsFiles);
        return process;
    }

    /// <summary>How long <see cref="AdmitToCgroup"/> waits for unshare to fork the jailed process.</summary>
    private static readonly TimeSpan ForkWait = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Moves the jailed process (unshare's child) into its cgroup from the host while its runtime starts. On
    /// cgroup v1 the first move into a cgroup waits for an RCU grace period (the kernel's threadgroup rwsem):
    /// ~28 ms here, which the jailed process would otherwise spend before its first confinement step. It still
    /// joins by itself when this did not happen (unshare had not forked in time, or this write failed): the
    /// move is idempotent, and it never runs guest code outside the cgroup either way.
    /// </summary>
    private static void AdmitToCgroup(int unsharePid, IReadOnlyList<string> procsFiles)
    {
        long deadline = Environment.TickCount64 + (long)ForkWait.TotalMilliseconds;
        int? child;
        while ((child = ProcFs.FirstChild(unsharePid)) is null && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }

        if (child is not { } pid)
        {
            return;
        }

        byte[] text = System.Text.Encoding.ASCII.GetBytes(pid.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (string procs in procsFiles)
        {
            try
            {
                LibcJail.WriteSmallFile(procs, text);
            }
            catch (JailSyscallException)
            {
                return; // gone already, or refused: the jailed process joins by itself
            }
        }
    }

    /// <summary>
    /// Builds the jail and replaces this process with the jailed one (execve), as Firecracker's jailer does: the
    /// caller's child pid becomes the jail's top process. Returns only by throwing.
    /// </summary>
    public static void Exec(JailSpec spec)
    {
        JailInitOptions init = Prepare(spec);
        JailPaths paths = new(init.Id, Path.GetFullPath(spec.ChrootBase));
        RecordOwner(paths, Environment.ProcessId);
        CloseInheritedDescriptors(spec.KeepFds);
        IReadOnlyList<string> argv = Command(spec, init);
        try
        {
            LibcJail.Execute(argv[0], [.. argv], [.. JailEnvironment]);
        }
        catch (JailSyscallException e)
        {
            JailTeardown.Destroy(init.Id, spec.ChrootBase);
            throw new JailException($"starting {UnsharePath} for jail '{init.Id}' failed: {e.Message}; install util-linux", e);
        }
    }

    /// <summary>
    /// Marks every descriptor above 2 that this process inherited (not close-on-exec) and is not in
    /// <paramref name="keep"/> close-on-exec, so the exec'd jail does not get it.
    /// </summary>
    internal static void CloseInheritedDescriptors(IReadOnlyList<int> keep)
    {
        foreach (int fd in OpenDescriptors())
        {
            if (fd > 2 && !keep.Contains(fd) && LibcJail.GetDescriptorFlags(fd) is int flags && flags >= 0 &&
                (flags & LibcJail.FD_CLOEXEC) == 0)
            {
                LibcJail.SetCloseOnExec(fd);
            }
        }
    }

    internal static List<int> OpenDescriptors() => ProcFs.OpenDescriptors();

    /// <summary>
    /// OpenSSL for the jailed runtime, at the same paths inside the jail. On Linux the runtime's
    /// RandomNumberGenerator and HMAC are OpenSSL, dlopen'ed by its native shim on first use, and the VMM needs
    /// both when the VM has MMDS (token key, tokens, TCP sequence numbers) or virtio-rng. With the libraries and
    /// the configuration file in the chroot that first use can happen inside the jail, under the seccomp filter
    /// (open, mmap and getrandom are on it), so a VM without those devices never loads OpenSSL at all: loading
    /// it up front cost every jailed VMM ~7 ms and ~0.8 MiB RssAnon. A library that is not on the host is left
    /// out: the VMM's first use of it then fails the same way as outside a jail.
    /// </summary>
    internal static IEnumerable<JailResource> CryptographyFiles()
    {
        foreach (string library in (string[])["libssl.so.3", "libcrypto.so.3"])
        {
            if (NativeLibraries.Find(library, []) is { } path)
            {
                yield return new JailResource(NativeLibraries.FinalTarget(path), path);
            }
        }

        const string config = "/usr/lib/ssl/openssl.cnf";
        if (File.Exists(config))
        {
            yield return new JailResource(NativeLibraries.FinalTarget(config), config); // a link to /etc/ssl on Debian
        }
    }

    public const string DefaultKvmDevicePath = "/dev/kvm";

    /// <summary>Null when the host's KVM device opens read-write; otherwise the message the jailer fails with.</summary>
    public static string? KvmProblem(string path = DefaultKvmDevicePath)
    {
        try
        {
            using FileStream kvm = new(path, FileMode.Open, FileAccess.ReadWrite);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{path} is missing or unusable on this host ({e.Message}): the VM needs hardware virtualization; load kvm_intel or kvm_amd, or run on a host with KVM";
        }
    }

    /// <summary>How the jailed process is started: a self-contained kindling-vmm itself, or dotnet and the dll.</summary>
    internal static JailRuntime Runtime(JailSpec spec) => JailRuntime.For(spec.AppPath, spec.DotnetPath);

    /// <summary>The dotnet host a framework-dependent kindling-vmm is started with.</summary>
    internal static string DotnetPath(JailSpec spec) =>
        spec.DotnetPath ?? JailRuntime.HostDotnet() ?? throw new JailException("no dotnet host found (not running under one, not on PATH)");

    private static JailException AlreadyExists(string id, JailPaths paths) =>
        new($"a jail with id '{id}' already exists ({paths.JailDir} or its cgroup); destroy it first (kindling-vmm jail --destroy --id {id}) or pick another id");

    private static void RecordOwner(JailPaths paths, int pid)
    {
        JailState state = JailState.TryRead(paths.StateFile) ?? throw new JailException($"{paths.StateFile} vanished while the jail was being started");
        (state with { OwnerPid = pid, OwnerStartTicks = ProcFs.StartTicks(pid) ?? 0 }).Write(paths.StateFile);
    }

    private static void RemoveIfEmpty(string dir, bool createdByUs)
    {
        if (createdByUs && Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any())
        {
            Directory.Delete(dir);
        }
    }
}
