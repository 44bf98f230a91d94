using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// An AF_PACKET raw socket bound to one host interface (a TAP): the host's side of the wire, for sending a whole
/// Ethernet frame into the TAP and reading the frames the guest sent out of it. Needs root (CAP_NET_RAW).
/// </summary>
internal sealed partial class PacketSocket : IDisposable
{
    private const int AF_PACKET = 17;
    private const int SOCK_RAW = 3;
    private const ushort ETH_P_ALL = 0x0003;
    private const short POLLIN = 0x001;
    private const int PollSliceMs = 100;
    private const int MaxFrame = 65536;

    private readonly SocketFd _fd;

    public PacketSocket(string interfaceName)
    {
        uint index = IfNameToIndex(interfaceName);
        if (index == 0)
        {
            throw new IOException($"if_nametoindex({interfaceName}) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        int fd = Socket(AF_PACKET, SOCK_RAW, HostToNetwork(ETH_P_ALL));
        if (fd < 0)
        {
            throw new IOException($"socket(AF_PACKET) failed: errno {Marshal.GetLastPInvokeError()}");
        }

        _fd = new SocketFd(fd);
        SockaddrLl address = new() { Family = AF_PACKET, Protocol = HostToNetwork(ETH_P_ALL), IfIndex = (int)index };
        if (Bind(_fd, in address, Marshal.SizeOf<SockaddrLl>()) != 0)
        {
            throw new IOException($"bind(AF_PACKET, {interfaceName}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Send(ReadOnlySpan<byte> frame)
    {
        nint n = SendFrame(_fd, frame, (nuint)frame.Length, 0);
        if (n != frame.Length)
        {
            throw new IOException($"send on the packet socket returned {n}: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Frames from the interface until <paramref name="accept"/> takes one; null at the deadline.</summary>
    public byte[]? Receive(Func<byte[], bool> accept, TimeSpan timeout, CancellationToken cancellationToken, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        byte[] buffer = new byte[MaxFrame];
        long started = time.GetTimestamp();
        while (time.GetElapsedTime(started) < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            PollFd p = new() { Fd = (int)_fd.DangerousGetHandle(), Events = POLLIN };
            int ready = Poll(ref p, 1, PollSliceMs);
            if (ready < 0)
            {
                throw new IOException($"poll on the packet socket failed: errno {Marshal.GetLastPInvokeError()}");
            }

            if (ready == 0)
            {
                continue;
            }

            nint n = Recv(_fd, buffer, (nuint)buffer.Length, 0);
            if (n < 0)
            {
                throw new IOException($"recv on the packet socket failed: errno {Marshal.GetLastPInvokeError()}");
            }

            byte[] frame = buffer.AsSpan(0, (int)n).ToArray();
            if (accept(frame))
            {
                return frame;
            }
        }

        return null;
    }

    public void Dispose() => _fd.Dispose();

    private static ushort HostToNetwork(ushort v) => (ushort)((v >> 8) | (v << 8));

    [StructLayout(LayoutKind.Sequential)]
    private struct SockaddrLl
    {
        public ushort Family;
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLen;
        public ulong Addr;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    private sealed class SocketFd : SafeHandleZeroOrMinusOneIsInvalid
    {
        public SocketFd(int fd) : base(ownsHandle: true) => SetHandle(fd);

        protected override bool ReleaseHandle() => CloseFd((int)handle) == 0;
    }

    [LibraryImport("libc", EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial uint IfNameToIndex(string name);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    private static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    private static partial int Bind(SocketFd fd, in SockaddrLl address, int length);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendFrame(SocketFd fd, ReadOnlySpan<byte> buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(SocketFd fd, Span<byte> buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(ref PollFd fds, nuint count, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseFd(int fd);
}
