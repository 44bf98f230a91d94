using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>
/// The C library's entry points, each declared once (source-generated, <c>SetLastError</c>), with glibc's x86_64
/// constant values. Raw: a call returns -1 (or the call's failure value) and leaves errno for
/// <see cref="SyscallException.Last"/>. File descriptors owned by the caller pass as <see cref="SafeHandle"/>s, so
/// the marshaller holds a reference for the call and a concurrent close cannot hand the number to another file;
/// the few calls that take a bare number (close, fcntl on inherited descriptors) name why.
/// </summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
public static unsafe partial class Libc
{
    public const string Library = "libc";

    // <fcntl.h>
    public const int O_RDONLY = 0x0;
    public const int O_WRONLY = 0x1;
    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;
    /// <summary>A descriptor that only names the file (no read or write); reopening /proc/self/fd/N opens that very file.</summary>
    public const int O_PATH = 0x200000;

    // <errno.h>
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int ESRCH = 3;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int E2BIG = 7;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENODEV = 19;
    public const int EINVAL = 22;

    /// <summary>The C library's text for <paramref name="errno"/> ("Permission denied").</summary>
    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    /// <summary>close(2) of a bare number: for <see cref="FileDescriptor.ReleaseHandle"/> and descriptors inherited by number.</summary>
    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "pread64", SetLastError = true)]
    public static partial nint Pread(SafeHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "pwrite64", SetLastError = true)]
    public static partial nint Pwrite(SafeHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Library, EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(SafeHandle fd);

    /// <summary>An ioctl whose argument is a pointer to a structure (or null).</summary>
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, void* argument);

    /// <summary>An ioctl whose argument is an integer passed by value.</summary>
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nuint argument);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Library, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(Library, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(SafeHandle epoll, int op, SafeHandle fd, EpollEvent* ev);

    [LibraryImport(Library, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(SafeHandle epoll, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport(Library, EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mkfifo(string path, uint mode);

    [LibraryImport(Library, EntryPoint = "setns", SetLastError = true)]
    public static partial int Setns(SafeHandle fd, int nstype);

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    public static partial int Kill(int pid, int signal);
}
