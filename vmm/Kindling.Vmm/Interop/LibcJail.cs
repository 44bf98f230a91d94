using System.Runtime.InteropServices;
using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Interop;

/// <summary>
/// glibc entry points the jail needs (mounts, pivot_root, credentials, rlimits, seccomp, device nodes), x86_64
/// values. Each wrapper throws <see cref="JailSyscallException"/> with the errno; none returns -1.
/// </summary>
internal static partial class LibcJail
{
    private const string Library = "libc";

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

    // <asm/unistd_64.h>: calls glibc has no wrapper for.
    public const long SYS_pivot_root = 155;
    public const long SYS_seccomp = 317;

    // <linux/seccomp.h>
    public const uint SECCOMP_SET_MODE_FILTER = 1;
    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1;

    public const int EXDEV = 18;
    public const int EEXIST = 17;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EBUSY = 16;
    public const int EINVAL = 22;

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    /// <summary>glibc's makedev(3): the kernel's dev_t encoding of a major/minor pair.</summary>
    public static ulong MakeDev(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    public static void Mount(string? source, string target, string? fsType, ulong flags, string? data = null) =>
        Check(mount(source, target, fsType, flags, data), $"mount({source ?? "none"} on {target})");

    public static void Unmount(string target, int flags) => Check(umount2(target, flags), $"umount2({target})");

    public static void PivotRoot(string newRoot, string putOld) =>
        Check(pivot_root_syscall(SYS_pivot_root, newRoot, putOld), $"pivot_root({newRoot}, {putOld})");

    /// <summary>The file type bits (S_IFMT) of <paramref name="path"/> itself (lstat: links are not followed).</summary>
    public static unsafe uint FileType(string path)
    {
        byte* buffer = stackalloc byte[StatSize];
        // SAFETY: lstat writes at most sizeof(struct stat) = StatSize bytes into the stack buffer.
        Check(lstat(path, buffer), $"lstat({path})");
        return *(uint*)(buffer + StatModeOffset) & S_IFMT;
    }

    /// <summary>open(O_WRONLY) + one write(2): for cgroup control files, without the FileStream machinery.</summary>
    public static unsafe void WriteSmallFile(string path, ReadOnlySpan<byte> content)
    {
        const int O_WRONLY = 1;
        const int O_CLOEXEC = 0x80000;
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        Check(fd, $"open({path})");
        try
        {
            fixed (byte* data = content)
            {
                // SAFETY: data points at content.Length readable bytes for the duration of the call.
                Check((int)write(fd, data, (nuint)content.Length), $"write({path})");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>The numeric entries of a /proc folder (/proc/self/fd), read with opendir/readdir.</summary>
    public static unsafe List<int> ListNumericEntries(string directory)
    {
        // struct dirent (x86_64): d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name.
        const int NameOffset = 19;
        IntPtr dir = opendir(directory);
        if (dir == IntPtr.Zero)
        {
            throw new JailSyscallException($"opendir({directory})", Marshal.GetLastPInvokeError());
        }

        List<int> result = [];
        try
        {
            for (byte* entry = readdir(dir); entry != null; entry = readdir(dir))
            {
                // SAFETY: readdir returns a dirent whose d_name is NUL-terminated; parsing stops at the NUL.
                int value = 0;
                byte* name = entry + NameOffset;
                bool numeric = *name != 0;
                for (; *name != 0; name++)
                {
                    numeric &= *name is >= (byte)'0' and <= (byte)'9';
                    value = (value * 10) + (*name - '0');
                }

                if (numeric)
                {
                    result.Add(value);
                }
            }
        }
        finally
        {
            _ = closedir(dir);
        }

        return result;
    }

    public static void MakeDirectory(string path, uint mode) => Check(mkdir(path, mode), $"mkdir({path})");

    public static void ChangeDirectory(string path) => Check(chdir(path), $"chdir({path})");

    public static void MakeNode(string path, uint mode, ulong device) =>
        Check(mknod(path, mode, device), $"mknod({path})");

    public static void MakeFifo(string path, uint mode) => Check(mkfifo(path, mode), $"mkfifo({path})");

    public static void ChangeOwner(string path, uint uid, uint gid) =>
        Check(lchown(path, uid, gid), $"lchown({path}, {uid}:{gid})");

    public static void ChangeMode(string path, uint mode) => Check(chmod(path, mode), $"chmod({path})");

    /// <summary>link(2); returns the errno instead of throwing for EXDEV so the caller can fall back.</summary>
    public static int TryLink(string existing, string newPath)
    {
        if (link(existing, newPath) == 0)
        {
            return 0;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (errno == EXDEV)
        {
            return errno;
        }

        throw new JailSyscallException($"link({existing} -> {newPath})", errno);
    }

    public static void DropGroups() => Check(setgroups(0, IntPtr.Zero), "setgroups([])");

    public static void SetResGid(uint gid) => Check(setresgid(gid, gid, gid), $"setresgid({gid})");

    public static void SetResUid(uint uid) => Check(setresuid(uid, uid, uid), $"setresuid({uid})");

    public static void SetNoNewPrivileges() =>
        Check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");

    /// <summary>prctl(PR_SET_PDEATHSIG): <paramref name="signal"/> arrives when the parent thread exits.</summary>
    public static void SetParentDeathSignal(int signal) =>
        Check(prctl(PR_SET_PDEATHSIG, (ulong)signal, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)");

    /// <summary>prctl(PR_GET_SECCOMP): 0 disabled, 2 filter mode.</summary>
    public static int GetSeccompMode()
    {
        int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        Check(mode, "prctl(PR_GET_SECCOMP)");
        return mode;
    }

    public static void SetResourceLimit(int resource, ulong value, string name)
    {
        RLimit limit = new() { Current = value, Max = value };
        Check(setrlimit(resource, in limit), $"setrlimit({name}, {value})");
    }

    public static RLimit GetResourceLimit(int resource)
    {
        Check(getrlimit(resource, out RLimit limit), $"getrlimit({resource})");
        return limit;
    }

    /// <summary>fcntl(F_GETFD); -1 with EBADF when <paramref name="fd"/> is not open.</summary>
    public static int GetDescriptorFlags(int fd) => fcntl(fd, F_GETFD, 0);

    public static void SetCloseOnExec(int fd) => Check(fcntl(fd, F_SETFD, FD_CLOEXEC), $"fcntl({fd}, F_SETFD)");

    public static void CloseDescriptor(int fd) => Check(close(fd), $"close({fd})");

    public static void ClearEnvironment() => Check(clearenv(), "clearenv()");

    public static void InstallSeccompFilter(IntPtr program, uint flags)
    {
        long result = seccomp_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, program);
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
        execve(path, [.. argv, null], [.. envp, null]);
        throw new JailSyscallException($"execve({path})", Marshal.GetLastPInvokeError());
    }

    /// <summary>kill(2); false when the process is already gone (ESRCH).</summary>
    public static bool Kill(int pid, int signal)
    {
        if (kill(pid, signal) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == ESRCH ? false : throw new JailSyscallException($"kill({pid}, {signal})", errno);
    }

    public static uint EffectiveUserId() => geteuid();

    /// <summary>Raw syscall with no arguments that matter, for the seccomp kill test.</summary>
    public static long RawSyscall(long number) => raw_syscall(number, 0, 0, 0);

    private static void Check(int result, string what)
    {
        if (result < 0)
        {
            throw new JailSyscallException(what, Marshal.GetLastPInvokeError());
        }
    }

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string? source, string target, string? fstype, ulong flags, string? data);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int umount2(string target, int flags);

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int pivot_root_syscall(long number, string newRoot, string putOld);

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long seccomp_syscall(long number, uint operation, uint flags, IntPtr program);

    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    private static partial long raw_syscall(long number, long a0, long a1, long a2);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lstat(string path, byte* buffer);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport(Library, SetLastError = true)]
    private static unsafe partial nint write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr opendir(string path);

    [LibraryImport(Library)]
    private static unsafe partial byte* readdir(IntPtr dir);

    [LibraryImport(Library)]
    private static partial int closedir(IntPtr dir);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkdir(string path, uint mode);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chdir(string path);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong dev);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, uint uid, uint gid);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int chmod(string path, uint mode);

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string existing, string newPath);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int setgroups(nuint size, IntPtr list);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int setresgid(uint rgid, uint egid, uint sgid);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int setresuid(uint ruid, uint euid, uint suid);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int prctl(int option, ulong a2, ulong a3, ulong a4, ulong a5);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int setrlimit(int resource, in RLimit limit);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int getrlimit(int resource, out RLimit limit);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int fcntl(int fd, int command, int argument);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int clearenv();

    [LibraryImport(Library, SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int execve(string path, string?[] argv, string?[] envp);

    [LibraryImport(Library, SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [LibraryImport(Library)]
    private static partial uint geteuid();
}
