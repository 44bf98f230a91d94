using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Runner.Interop;

/// <summary><c>struct epoll_event</c> (x86-64: packed, 12 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
internal struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

/// <summary>epoll(7), non-blocking open and read: what <see cref="Logs.SerialFifoStream"/> needs to read FIFOs without a blocked thread each.</summary>
internal static partial class Epoll
{
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLONESHOT = 1u << 30;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int O_RDONLY = 0;
    public const int EAGAIN = 11;
    public const int EINTR = 4;

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate1Native(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtlNative(SafeFileHandle epfd, int op, SafeFileHandle fd, ref EpollEvent ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    // SAFETY: takes a pointer; its one caller pins a span of the length it passes for the call.
    private static unsafe partial int EpollWaitNative(SafeFileHandle epfd, EpollEvent* events, int maxEvents, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    // SAFETY: takes a pointer; its one caller pins a span of the length it passes for the call.
    private static unsafe partial nint ReadNative(SafeFileHandle fd, byte* buffer, nint count);

    public static SafeFileHandle Create() =>
        Handle(EpollCreate1Native(EPOLL_CLOEXEC), "epoll_create1");

    public static void Control(SafeFileHandle epfd, int op, SafeFileHandle fd, uint events, ulong data)
    {
        var ev = new EpollEvent { Events = events, Data = data };
        if (EpollCtlNative(epfd, op, fd, ref ev) != 0)
        {
            throw Error("epoll_ctl");
        }
    }

    /// <summary>Waits for events (no timeout); 0 when interrupted by a signal.</summary>
    public static unsafe int Wait(SafeFileHandle epfd, Span<EpollEvent> events)
    {
        // SAFETY: the span is pinned for the call and epoll_wait writes at most events.Length entries.
        fixed (EpollEvent* p = events)
        {
            int n = EpollWaitNative(epfd, p, events.Length, -1);
            return n >= 0 ? n : Marshal.GetLastPInvokeError() == EINTR ? 0 : throw Error("epoll_wait");
        }
    }

    /// <summary>Opens a file (a FIFO: returns at once, writer or not) with O_NONBLOCK | O_CLOEXEC.</summary>
    public static SafeFileHandle OpenNonBlocking(string path) =>
        Handle(OpenNative(path, O_RDONLY | Libc.O_NONBLOCK | Libc.O_CLOEXEC), $"open {path}");

    /// <summary>read(2) on a non-blocking descriptor: bytes read, 0 at end of file, null when it would block (EAGAIN).</summary>
    public static unsafe int? Read(SafeFileHandle fd, Span<byte> buffer)
    {
        while (true)
        {
            // SAFETY: the span is pinned for the call and read writes at most buffer.Length bytes.
            fixed (byte* p = buffer)
            {
                nint n = ReadNative(fd, p, buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == EAGAIN)
            {
                return null;
            }

            if (errno != EINTR)
            {
                throw new IOException($"read failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
            }
        }
    }

    private static SafeFileHandle Handle(int fd, string what) =>
        fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw Error(what);

    private static IOException Error(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }
}
