using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>
/// An owned file descriptor, closed with close(2) when released: the one handle type for descriptors Kindling opens
/// itself (KVM, epoll, eventfd, TAP, FIFOs). P/Invokes take it as a <see cref="SafeHandle"/>, so the marshaller
/// holds a reference for each call and a concurrent Dispose waits for the call instead of closing under it.
/// </summary>
public class FileDescriptor : SafeHandle
{
    /// <summary>Takes ownership of <paramref name="fd"/> (an open descriptor nothing else will close).</summary>
    public FileDescriptor(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    public override bool IsInvalid => handle == -1;

    /// <summary>The raw descriptor number (for logging and for fds passed to other processes; never close it).</summary>
    public int Number => (int)handle;

    /// <summary>open(2) with O_CLOEXEC added; throws <see cref="SyscallException"/> ("open PATH") when it fails.</summary>
    public static FileDescriptor Open(string path, int flags)
    {
        int fd = Libc.Open(path, flags | Libc.O_CLOEXEC);
        return fd >= 0 ? new FileDescriptor(fd) : throw SyscallException.Last($"open {path}");
    }

    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}
