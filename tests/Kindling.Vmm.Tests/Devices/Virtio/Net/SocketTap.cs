using System.Net.Sockets;
using System.Runtime.InteropServices;
using Kindling.Vmm.Devices.Virtio.Net;

namespace Kindling.Vmm.Tests.Devices.Virtio.Net;

/// <summary>
/// A stand-in for a TAP without root: a connected pair of Unix datagram sockets (one frame per datagram, like a
/// TAP fd). The device gets <see cref="Device"/>; the test plays the host network through <see cref="Host"/>.
/// </summary>
internal sealed class SocketTap : ITapDevice
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-net-").FullName;

    public SocketTap()
    {
        var a = new UnixDomainSocketEndPoint(Path.Combine(_dir, "a"));
        var b = new UnixDomainSocketEndPoint(Path.Combine(_dir, "b"));
        Device = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        Host = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        Device.Bind(a);
        Host.Bind(b);
        Device.Connect(b);
        Host.Connect(a);
        Device.Blocking = false;
        Host.ReceiveTimeout = 5000;
    }

    public Socket Device { get; }

    public Socket Host { get; }

    public uint Offloads { get; private set; }

    public SafeHandle Handle => Device.SafeHandle;

    public int Read(Span<byte> frame)
    {
        try
        {
            return Device.Receive(frame);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return -1;
        }
    }

    public bool Write(ReadOnlySpan<byte> frame)
    {
        try
        {
            return Device.Send(frame) == frame.Length;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
    }

    public void SetOffload(uint tunFlags) => Offloads = tunFlags;

    public void Dispose()
    {
        Device.Dispose();
        Host.Dispose();
        Directory.Delete(_dir, true);
    }
}
