using System.Net.Sockets;
using Kindling.Vmm.EventLoop;

namespace Kindling.Vmm.Devices.Virtio.Vsock;

/// <summary>Where a connection is in its life.</summary>
public enum VsockConnectionState
{
    /// <summary>Host-initiated: REQUEST sent to the guest, waiting for RESPONSE.</summary>
    LocalInit,

    /// <summary>Both sides agreed; data flows.</summary>
    Established,

    /// <summary>SHUTDOWN sent to the guest (host closed); waiting for the guest's RST.</summary>
    Closing,
}

/// <summary>
/// One guest port ↔ host Unix socket connection with virtio-vsock credit accounting: the guest may have at most
/// <see cref="PeerBufAlloc"/> − (<see cref="RxCount"/> − <see cref="PeerFwdCnt"/>) bytes from us in flight; we
/// advertise <see cref="BufAlloc"/> and <see cref="FwdCnt"/> (bytes we passed on to the host socket).
/// </summary>
internal sealed class VsockConnection(uint guestPort, uint hostPort, Socket socket, VsockConnectionState state)
{
    /// <summary>Our receive buffer as advertised to the guest.</summary>
    public const uint BufAlloc = 256 * 1024;

    public uint GuestPort { get; } = guestPort;

    public uint HostPort { get; } = hostPort;

    public Socket Socket { get; } = socket;

    public VsockConnectionState State { get; set; } = state;

    public EventRegistration? Registration { get; set; }

    /// <summary>Edge-triggered readiness: set by the event loop, cleared when a read would block.</summary>
    public bool Readable { get; set; }

    /// <summary>The host socket reached end of file.</summary>
    public bool HostEof { get; set; }

    /// <summary>Bytes of guest data passed on to the host socket (our fwd_cnt).</summary>
    public uint FwdCnt { get; set; }

    /// <summary>fwd_cnt last advertised to the guest.</summary>
    public uint LastAdvertisedFwdCnt { get; set; }

    /// <summary>Bytes sent to the guest (rx_cnt).</summary>
    public uint RxCount { get; set; }

    public uint PeerBufAlloc { get; set; }

    public uint PeerFwdCnt { get; set; }

    /// <summary>Guest data not yet accepted by the host socket.</summary>
    public List<byte> PendingToHost { get; } = [];

    /// <summary>How many bytes we may send to the guest now.</summary>
    public uint PeerCredit => PeerBufAlloc - (RxCount - PeerFwdCnt) is var c && c <= PeerBufAlloc ? c : 0;

    public (uint Guest, uint Host) Key => (GuestPort, HostPort);
}
