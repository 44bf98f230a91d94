namespace Kindling.Native;

/// <summary>An eventfd: a counter the kernel (ioeventfd/irqfd) or another thread signals.</summary>
public sealed class EventFdHandle : FileDescriptor
{
    public const int EFD_CLOEXEC = 0x80000;
    public const int EFD_NONBLOCK = 0x800;

    private EventFdHandle(int fd) : base(fd)
    {
    }

    /// <summary>Creates a non-blocking eventfd.</summary>
    public static EventFdHandle Create()
    {
        int fd = Libc.EventFd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        return fd >= 0 ? new EventFdHandle(fd) : throw SyscallException.Last("eventfd");
    }

    /// <summary>Adds 1 to the counter (wakes a waiter).</summary>
    public void Signal()
    {
        Span<byte> one = stackalloc byte[8];
        BitConverter.TryWriteBytes(one, 1UL);
        FdIo.Write(this, one);
    }

    /// <summary>Reads and clears the counter; 0 when it was already clear.</summary>
    public ulong Drain()
    {
        Span<byte> value = stackalloc byte[8];
        return FdIo.Read(this, value) == 8 ? BitConverter.ToUInt64(value) : 0;
    }
}
