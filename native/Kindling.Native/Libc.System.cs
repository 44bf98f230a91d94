using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>The calls that set up a process: mounts, credentials, limits, device nodes, exec (the jail's).</summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
public static unsafe partial class Libc
{
    // <asm/unistd_64.h>: calls glibc has no wrapper for.
    public const long SYS_pivot_root = 155;
    public const long SYS_seccomp = 317;

    /// <summary>struct rlimit.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }

    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string? source, string target, string? fstype, ulong flags, string? data);

    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Umount2(string target, int flags);

    /// <summary>syscall(2) with two path arguments (pivot_root).</summary>
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Syscall(long number, string path1, string path2);

    /// <summary>syscall(2) of seccomp(operation, flags, program).</summary>
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, uint operation, uint flags, IntPtr program);

    /// <summary>syscall(2) with three integer arguments.</summary>
    [LibraryImport(Library, EntryPoint = "syscall", SetLastError = true)]
    public static partial long Syscall(long number, long a0, long a1, long a2);

    [LibraryImport(Library, EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lstat(string path, byte* buffer);

    [LibraryImport(Library, EntryPoint = "opendir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr Opendir(string path);

    [LibraryImport(Library, EntryPoint = "readdir", SetLastError = true)]
    public static partial byte* Readdir(IntPtr dir);

    [LibraryImport(Library, EntryPoint = "closedir", SetLastError = true)]
    public static partial int Closedir(IntPtr dir);

    [LibraryImport(Library, EntryPoint = "mkdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkdir(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chdir(string path);

    [LibraryImport(Library, EntryPoint = "mknod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mknod(string path, uint mode, ulong dev);

    [LibraryImport(Library, EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Lchown(string path, uint uid, uint gid);

    [LibraryImport(Library, EntryPoint = "chmod", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chmod(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Link(string existing, string newPath);

    [LibraryImport(Library, EntryPoint = "setgroups", SetLastError = true)]
    public static partial int Setgroups(nuint size, IntPtr list);

    [LibraryImport(Library, EntryPoint = "setresgid", SetLastError = true)]
    public static partial int Setresgid(uint rgid, uint egid, uint sgid);

    [LibraryImport(Library, EntryPoint = "setresuid", SetLastError = true)]
    public static partial int Setresuid(uint ruid, uint euid, uint suid);

    [LibraryImport(Library, EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, ulong a2, ulong a3, ulong a4, ulong a5);

    [LibraryImport(Library, EntryPoint = "setrlimit", SetLastError = true)]
    public static partial int Setrlimit(int resource, in RLimit limit);

    [LibraryImport(Library, EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int Getrlimit(int resource, out RLimit limit);

    /// <summary>fcntl(2) of a bare number: the jail walks /proc/self/fd, descriptors no handle of ours owns.</summary>
    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "clearenv", SetLastError = true)]
    public static partial int Clearenv();

    [LibraryImport(Library, EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Execve(string path, string?[] argv, string?[] envp);

    [LibraryImport(Library, EntryPoint = "geteuid", SetLastError = true)]
    public static partial uint Geteuid();
}
