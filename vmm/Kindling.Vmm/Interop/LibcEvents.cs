using System.ComponentModel;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Interop;

/// <summary>
/// The syscalls of the device I/O path: eventfd, epoll, timerfd, positional and plain read/write, fsync, the TUN
/// ioctls and Unix sockets' non-blocking flag. Each failed call throws <see cref="Win32Exception"/> carrying errno.
/// (Names are distinct from Interop/Libc.cs, which another part of the monitor owns.)
/// </summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
internal static unsafe partial class LibcEvents
{
    private const string LibC = "libc";

    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;
    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const int EPOLL_CTL_MOD = 3;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    public const int EINTR = 4;
    public const int EAGAIN = 11;

    public const short IFF_TAP = 0x0002;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;

    private const uint IocWrite = 1;
    private const int IocNrShift = 0, IocTypeShift = 8, IocSizeShift = 16, IocDirShift = 30;

    private static uint Iow<T>(char type, uint nr) where T : unmanaged =>
        (IocWrite << IocDirShift) | ((uint)sizeof(T) << IocSizeShift) | ((uint)type << IocTypeShift) | (nr << IocNrShift);

    // <linux/if_tun.h>: TUNSETIFF _IOW('T', 202, int), TUNSETOFFLOAD _IOW('T', 208, unsigned int),
    // TUNSETVNETHDRSZ _IOW('T', 216, int).
    private static readonly uint TunSetIff = Iow<int>('T', 202);
    private static readonly uint TunSetOffload = Iow<uint>('T', 208);
    private static readonly uint TunSetVnetHdrSz = Iow<int>('T', 216);

    /// <summary>struct epoll_event (packed on x86-64: 12 bytes).</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    public struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    /// <summary>struct ifreq as TUNSETIFF uses it: the name and the flags, padded to 40 bytes.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    public struct IfReq
    {
        public fixed byte Name[16];
        public short Flags;
    }

    [LibraryImport(LibC, EntryPoint = "eventfd", SetLastError = true)]
    private static partial int SysEventFd(uint initval, int flags);

    [LibraryImport(LibC, EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int SysEpollCreate1(int flags);

    [LibraryImport(LibC, EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int SysEpollCtl(int epfd, int op, int fd, EpollEvent* ev);

    [LibraryImport(LibC, EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int SysEpollWait(int epfd, EpollEvent* events, int maxevents, int timeout);

    [LibraryImport(LibC, EntryPoint = "read", SetLastError = true)]
    private static partial nint SysRead(int fd, byte* buf, nuint count);

    [LibraryImport(LibC, EntryPoint = "write", SetLastError = true)]
    private static partial nint SysWrite(int fd, byte* buf, nuint count);

    [LibraryImport(LibC, EntryPoint = "pread64", SetLastError = true)]
    private static partial nint SysPread(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(LibC, EntryPoint = "pwrite64", SetLastError = true)]
    private static partial nint SysPwrite(int fd, byte* buf, nuint count, long offset);

    [LibraryImport(LibC, EntryPoint = "fsync", SetLastError = true)]
    private static partial int SysFsync(int fd);

    [LibraryImport(LibC, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SysOpenForEvents(string path, int flags);

    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    internal static partial int CloseForEvents(int fd);

    [LibraryImport(LibC, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int SysIoctlPtr(int fd, nuint request, void* arg);

    [LibraryImport(LibC, EntryPoint = "ioctl", SetLastError = true)]
    private static partial int SysIoctlValue(int fd, nuint request, nuint arg);

    private static Win32Exception Errno(string what)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new Win32Exception(errno, $"{what} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }

    public static EventFdHandle EventFd(bool nonBlocking)
    {
        int fd = SysEventFd(0, EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0));
        return fd < 0 ? throw Errno("eventfd") : new EventFdHandle(fd);
    }

    public static EpollHandle EpollCreate()
    {
        int fd = SysEpollCreate1(EPOLL_CLOEXEC);
        return fd < 0 ? throw Errno("epoll_create1") : new EpollHandle(fd);
    }

    public static void EpollCtl(SafeHandle epoll, int op, int fd, uint events, ulong data)
    {
        var ev = new EpollEvent { Events = events, Data = data };
        if (SysEpollCtl(Fd(epoll), op, fd, &ev) < 0)
        {
            throw Errno($"epoll_ctl(op {op}, fd {fd})");
        }
    }

    /// <summary>Waits for events; returns the count (0 on timeout or EINTR).</summary>
    public static int EpollWait(SafeHandle epoll, Span<EpollEvent> events, int timeoutMs)
    {
        // SAFETY: the span is pinned for the call and epoll_wait writes at most events.Length entries.
        fixed (EpollEvent* p = events)
        {
            int n = SysEpollWait(Fd(epoll), p, events.Length, timeoutMs);
            if (n < 0)
            {
                return Marshal.GetLastPInvokeError() == EINTR ? 0 : throw Errno("epoll_wait");
            }

            return n;
        }
    }

    /// <summary>read(2); returns -1 on EAGAIN (non-blocking fd with nothing to read).</summary>
    public static int Read(SafeHandle fd, Span<byte> buffer)
    {
        // SAFETY: the span is pinned and read(2) writes at most buffer.Length bytes into it.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = SysRead(Fd(fd), p, (nuint)buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    return -1;
                }

                if (errno != EINTR)
                {
                    throw Errno("read");
                }
            }
        }
    }

    /// <summary>write(2); returns -1 on EAGAIN.</summary>
    public static int Write(SafeHandle fd, ReadOnlySpan<byte> buffer)
    {
        // SAFETY: the span is pinned and write(2) only reads buffer.Length bytes from it.
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = SysWrite(Fd(fd), p, (nuint)buffer.Length);
                if (n >= 0)
                {
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == EAGAIN)
                {
                    return -1;
                }

                if (errno != EINTR)
                {
                    throw Errno("write");
                }
            }
        }
    }

    /// <summary>pread(2) until the span is full or end of file; returns the bytes read.</summary>
    public static int Pread(SafeHandle fd, Span<byte> buffer, long offset)
    {
        int done = 0;
        // SAFETY: the span is pinned; each pread(2) writes inside [p + done, p + buffer.Length).
        fixed (byte* p = buffer)
        {
            while (done < buffer.Length)
            {
                nint n = SysPread(Fd(fd), p + done, (nuint)(buffer.Length - done), offset + done);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR)
                    {
                        continue;
                    }

                    throw Errno("pread");
                }

                if (n == 0)
                {
                    break;
                }

                done += (int)n;
            }
        }

        return done;
    }

    /// <summary>pwrite(2) of the whole span.</summary>
    public static void Pwrite(SafeHandle fd, ReadOnlySpan<byte> buffer, long offset)
    {
        int done = 0;
        // SAFETY: the span is pinned; each pwrite(2) reads inside [p + done, p + buffer.Length).
        fixed (byte* p = buffer)
        {
            while (done < buffer.Length)
            {
                nint n = SysPwrite(Fd(fd), p + done, (nuint)(buffer.Length - done), offset + done);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EINTR)
                    {
                        continue;
                    }

                    throw Errno("pwrite");
                }

                done += (int)n;
            }
        }
    }

    public static void Fsync(SafeHandle fd)
    {
        if (SysFsync(Fd(fd)) < 0)
        {
            throw Errno("fsync");
        }
    }

    /// <summary>Opens /dev/net/tun (non-blocking) and attaches it to TAP <paramref name="name"/> with a virtio-net header.</summary>
    public static TapFdHandle OpenTap(string name)
    {
        int fd = SysOpenForEvents("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
        {
            throw Errno("open /dev/net/tun");
        }

        var handle = new TapFdHandle(fd);
        try
        {
            var req = new IfReq { Flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
            byte[] utf8 = System.Text.Encoding.UTF8.GetBytes(name);
            if (utf8.Length >= 16)
            {
                throw new ArgumentException($"TAP name '{name}' is longer than 15 bytes (IFNAMSIZ)", nameof(name));
            }

            for (int i = 0; i < utf8.Length; i++)
            {
                req.Name[i] = utf8[i];
            }

            if (SysIoctlPtr(fd, TunSetIff, &req) < 0)
            {
                throw Errno($"TUNSETIFF '{name}'");
            }

            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    public static void TapSetVnetHdrSize(SafeHandle tap, int size)
    {
        if (SysIoctlPtr(Fd(tap), TunSetVnetHdrSz, &size) < 0)
        {
            throw Errno("TUNSETVNETHDRSZ");
        }
    }

    public static void TapSetOffload(SafeHandle tap, uint flags)
    {
        if (SysIoctlValue(Fd(tap), TunSetOffload, flags) < 0)
        {
            throw Errno("TUNSETOFFLOAD");
        }
    }

    private static int Fd(SafeHandle handle) => (int)handle.DangerousGetHandle();
}

/// <summary>An owned file descriptor closed with close(2).</summary>
internal abstract class OwnedFdHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    protected OwnedFdHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => LibcEvents.CloseForEvents((int)handle) == 0;
}

/// <summary>An epoll instance.</summary>
internal sealed class EpollHandle(int fd) : OwnedFdHandle(fd);

/// <summary>A file descriptor of /dev/net/tun attached to a TAP interface.</summary>
internal sealed class TapFdHandle(int fd) : OwnedFdHandle(fd);

/// <summary>An eventfd: a counter the kernel (ioeventfd/irqfd) or another thread signals.</summary>
public sealed class EventFdHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    internal EventFdHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    public int Fd => (int)handle;

    /// <summary>Creates a non-blocking eventfd.</summary>
    public static EventFdHandle Create() => LibcEvents.EventFd(nonBlocking: true);

    /// <summary>Adds 1 to the counter (wakes a waiter).</summary>
    public void Signal()
    {
        Span<byte> one = stackalloc byte[8];
        BitConverter.TryWriteBytes(one, 1UL);
        LibcEvents.Write(this, one);
    }

    /// <summary>Reads and clears the counter; 0 when it was already clear.</summary>
    public ulong Drain()
    {
        Span<byte> value = stackalloc byte[8];
        return LibcEvents.Read(this, value) == 8 ? BitConverter.ToUInt64(value) : 0;
    }

    protected override bool ReleaseHandle() => LibcEvents.CloseForEvents((int)handle) == 0;
}
