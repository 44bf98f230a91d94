using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary><c>struct epoll_event</c> (x86-64: packed, 12 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 4)]
public struct EpollEvent
{
    public uint Events;
    public ulong Data;
}

/// <summary>epoll(7): the VMM's device event loop and the runner's FIFO poller both wait here.</summary>
// SAFETY: every pointer is a local or a pinned span that outlives its call, passed with its length (see each call).
public static unsafe class Epoll
{
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLONESHOT = 1u << 30;
    public const uint EPOLLET = 1u << 31;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const int EPOLL_CLOEXEC = 0x80000;

    /// <summary>epoll_create1(EPOLL_CLOEXEC).</summary>
    public static FileDescriptor Create()
    {
        int fd = Libc.EpollCreate1(EPOLL_CLOEXEC);
        return fd >= 0 ? new FileDescriptor(fd) : throw SyscallException.Last("epoll_create1");
    }

    /// <summary>epoll_ctl(2): adds, modifies or removes <paramref name="fd"/> with <paramref name="data"/> as its token.</summary>
    public static void Control(SafeHandle epoll, int op, SafeHandle fd, uint events, ulong data)
    {
        var ev = new EpollEvent { Events = events, Data = data };
        // SAFETY: ev is a local that outlives the call; epoll_ctl reads one epoll_event from it.
        if (Libc.EpollCtl(epoll, op, fd, &ev) != 0)
        {
            throw SyscallException.Last($"epoll_ctl(op {op})");
        }
    }

    /// <summary>Waits for events (<paramref name="timeoutMs"/> -1: no timeout); the count, 0 on timeout or a signal (EINTR).</summary>
    public static int Wait(SafeHandle epoll, Span<EpollEvent> events, int timeoutMs)
    {
        // SAFETY: the span is pinned for the call and epoll_wait writes at most events.Length entries.
        fixed (EpollEvent* p = events)
        {
            int n = Libc.EpollWait(epoll, p, events.Length, timeoutMs);
            return n >= 0 ? n : Marshal.GetLastPInvokeError() == Libc.EINTR ? 0 : throw SyscallException.Last("epoll_wait");
        }
    }
}
