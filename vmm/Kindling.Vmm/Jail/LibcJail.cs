using System.Runtime.InteropServices;

namespace Kindling.Vmm.Jail;

/// <summary>
/// glibc entry points the jail needs (mounts, pivot_root, credentials, rlimits, seccomp, device nodes), x86_64
/// values. Each wrapper throws <see cref="JailSyscallException"/> with the errno; none returns -1.
/// </summary>
internal static class LibcJail
{
    // <sys/mount.h>
    public const ulong MS_RDONLY = 0x1;
    public const ulong MS_NOSUID = 0x2;
    public const ulong MS_NODEV = 0x4;
    public const ulong MS_NOEXEC = 0x8;
    public const ulong MS_REMOUNT = 0x20;
    public const ulong MS_BIND = 0x1000;
    public const ulong MS_REC = 0x4000;
    public const ulong MS_PRIVATE = 0x40000;
    public const int MNT_DETACH = 0x2;

    // <sys/stat.h>
    public const uint S_IFCHR = 0x2000;
    public const uint S_IFIFO = 0x1000;
    public const uint S_IFSOCK = 0xc000;
    public const uint S_IFMT = 0xf000;

    // struct stat (x86_64): st_mode follows st_dev, st_ino and st_nlink; the whole struct is 144 bytes.
    private const int StatSize = 144;
    private const int StatModeOffset = 24;

    // <sys/prctl.h>
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_GET_SECCOMP = 21;
    public const int PR_SET_PDEATHSIG = 1;

    // <sys/resource.h>
    public const int RLIMIT_FSIZE = 1;
    public const int RLIMIT_NOFILE = 7;

    // <fcntl.h>
    public const int F_GETFD = 1;
    public const int F_SETFD = 2;
    public const int FD_CLOEXEC = 1;

    // <linux/seccomp.h>
    public const uint SECCOMP_SET_MODE_FILTER = 1;
    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1;

    /// <summary>glibc's makedev(3): the kernel's dev_t encoding of a major/minor pair.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static void Mount(string? source, string target, string? fsType, ulong flags, string? data = null) =>
        Check(Libc.Mount(source, target, fsType, flags, data), $"mount({source ?? "none"} on {target})");

    public static void Unmount(string target, int flags) => Check(Libc.Umount2(target, flags), $"umount2({target})");

    public static void PivotRoot(string newRoot, string putOld) =>
        Check(Libc.Syscall(Libc.SYS_pivot_root, newRoot, putOld), $"pivot_root({newRoot}, {putOld})");

    /// <summary>The file type bits (S_IFMT) of <paramref name="path"/> itself (lstat: links are not followed).</summary>
    public static unsafe uint FileType(string path)
    {
        byte* buffer = stackalloc byte[StatSize];
        // SAFETY: lstat writes at most sizeof(struct stat) = StatSize bytes into the stack buffer.
        Check(Libc.Lstat(path, buffer), $"lstat({path})");
        return *(uint*)(buffer + StatModeOffset) & S_IFMT;
    }

    /// <summary>open(O_WRONLY) + one write(2): for cgroup control files, without the FileStream machinery.</summary>
    // SAFETY: the only pointer is the pinned content, passed with its own length (see the fixed block).
    public static unsafe void WriteSmallFile(string path, ReadOnlySpan<byte> content)
    {
        int fd = Libc.Open(path, Libc.O_WRONLY | Libc.O_CLOEXEC);
        Check(fd, $"open({path})");
        using FileDescriptor file = new(fd);
        // SAFETY: the span is pinned for the call and write(2) reads at most content.Length bytes from it.
        fixed (byte* data = content)
        {
            Check((int)Libc.Write(file, data, (nuint)content.Length), $"write({path})");
        }
    }

    public static void MakeDirectory(string path, uint mode) => Check(Libc.Mkdir(path, mode), $"mkdir({path})");

    public static void ChangeDirectory(string path) => Check(Libc.Chdir(path), $"chdir({path})");

    public static void MakeNode(string path, uint mode, ulong device) =>
        Check(Libc.Mknod(path, mode, device), $"mknod({path})");

    public static void MakeFifo(string path, uint mode) => Check(Libc.Mkfifo(path, mode), $"mkfifo({path})");

    public static void ChangeOwner(string path, uint uid, uint gid) =>
        Check(Libc.Lchown(path, uid, gid), $"lchown({path}, {uid}:{gid})");

    public static void ChangeMode(string path, uint mode) => Check(Libc.Chmod(path, mode), $"chmod({path})");

    /// <summary>link(2); returns the errno instead of throwing for EXDEV so the caller can fall back.</summary>
    public static int TryLink(string existing, string newPath)
    {
        if (Libc.Link(existing, newPath) == 0)
        {
            return 0;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == Libc.EXDEV)
        {
            return errno;
        }

        throw new JailSyscallException($"link({existing} -> {newPath})", errno);
    }

    public static void DropGroups() => Check(Libc.Setgroups(0, IntPtr.Zero), "setgroups([])");

    public static void SetResGid(uint gid) => Check(Libc.Setresgid(gid, gid, gid), $"setresgid({gid})");

    public static void SetResUid(uint uid) => Check(Libc.Setresuid(uid, uid, uid), $"setresuid({uid})");

    public static void SetNoNewPrivileges() =>
        Check(Libc.Prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");

    /// <summary>prctl(PR_SET_PDEATHSIG): <paramref name="signal"/> arrives when the parent thread exits.</summary>
    public static void SetParentDeathSignal(int signal) =>
        Check(Libc.Prctl(PR_SET_PDEATHSIG, (ulong)signal, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");

    /// <summary>prctl(PR_GET_SECCOMP): 0 disabled, 2 filter mode.</summary>
    public static int GetSeccompMode()
    {
        int mode = Libc.Prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        Check(mode, "prctl(PR_GET_SECCOMP)");
        return mode;
    }

    public static void SetResourceLimit(int resource, ulong value, string name)
    {
        Libc.RLimit limit = new() { Current = value, Max = value };
        Check(Libc.Setrlimit(resource, in limit), $"setrlimit({name}, {value})");
    }

    public static Libc.RLimit GetResourceLimit(int resource)
    {
        Check(Libc.Getrlimit(resource, out Libc.RLimit limit), $"getrlimit({resource})");
        return limit;
    }

    /// <summary>fcntl(F_GETFD); -1 with EBADF when <paramref name="fd"/> is not open.</summary>
    public static int GetDescriptorFlags(int fd) => Libc.Fcntl(fd, F_GETFD, 0);

    public static void SetCloseOnExec(int fd) => Check(Libc.Fcntl(fd, F_SETFD, FD_CLOEXEC), $"fcntl({fd}, F_SETFD)");

    public static void CloseDescriptor(int fd) => Check(Libc.Close(fd), $"close({fd})");

    public static void ClearEnvironment() => Check(Libc.Clearenv(), "clearenv()");

    public static void InstallSeccompFilter(IntPtr program, uint flags)
    {
        long result = Libc.Syscall(Libc.SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, program);
        if (result > 0)
        {
            // TSYNC reports the id of a thread that could not be synchronised.
            throw new JailSyscallException($"seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread {result} could not be synchronised", 0);
        }

        Check((int)result, "seccomp(SECCOMP_SET_MODE_FILTER)");
    }

    /// <summary>execve(2): returns only on failure, by throwing.</summary>
    public static void Execute(string path, string[] argv, string[] envp)
    {
        Libc.Execve(path, [.. argv, null], [.. envp, null]);
        throw new JailSyscallException($"execve({path})", Marshal.GetLastPInvokeError());
    }

    public static uint EffectiveUserId() => Libc.Geteuid();

    /// <summary>Raw syscall with no arguments that matter, for the seccomp kill test.</summary>
    public static long RawSyscall(long number) => Libc.Syscall(number, 0L, 0L, 0L);

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw new JailSyscallException(what, Marshal.GetLastPInvokeError());
        }
    }
}
