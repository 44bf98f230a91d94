using System.Net.Sockets;
using System.Text;
using Kindling.Vmm.Interop;

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

/// <summary>What the muxer does after a connection took a guest packet.</summary>
internal enum VsockReply
{
    /// <summary>Nothing more.</summary>
    None,

    /// <summary>Send the guest a CREDIT_UPDATE for this connection.</summary>
    CreditUpdate,

    /// <summary>Send the guest an RST and forget the connection.</summary>
    Reset,

    /// <summary>Forget the connection (the guest reset it).</summary>
    Close,

    /// <summary>The packet is not valid in the connection's state: warn, send an RST and forget the connection.</summary>
    Invalid,
}

/// <summary>
/// One guest port ↔ host Unix socket connection (Firecracker's connection state machine): its state, the guest
/// packets valid in each state, the data path to the host socket and virtio-vsock credit accounting. The guest may
/// have at most <see cref="PeerBufAlloc"/> − (<see cref="RxCount"/> − <see cref="PeerFwdCnt"/>) bytes from us in
/// flight; we advertise <see cref="BufAlloc"/> and <see cref="FwdCnt"/> (bytes we passed on to the host socket).
/// </summary>
internal sealed class VsockConnection(uint guestPort, uint hostPort, Socket socket, VsockConnectionState state, IEventLoop loop)
{
    /// <summary>Our receive buffer as advertised to the guest.</summary>
    public const uint BufAlloc = 256 * 1024;

    public uint GuestPort { get; } = guestPort;

    public uint HostPort { get; } = hostPort;

    public Socket Socket { get; } = socket;

    public VsockConnectionState State { get; private set; } = state;

    public IEventRegistration? Registration { get; set; }

    /// <summary>Edge-triggered readiness: set by the event loop, cleared when a read would block.</summary>
    public bool Readable { get; set; }

    /// <summary>The host socket reached end of file.</summary>
    public bool HostEof { get; private set; }

    /// <summary>Bytes of guest data passed on to the host socket (our fwd_cnt).</summary>
    public uint FwdCnt { get; private set; }

    /// <summary>fwd_cnt last advertised to the guest.</summary>
    public uint LastAdvertisedFwdCnt { get; private set; }

    /// <summary>Bytes sent to the guest (rx_cnt).</summary>
    public uint RxCount { get; private set; }

    public uint PeerBufAlloc { get; set; }

    public uint PeerFwdCnt { get; set; }

    /// <summary>Guest data not yet accepted by the host socket.</summary>
    public List<byte> PendingToHost { get; } = [];

    /// <summary>How many bytes we may send to the guest now.</summary>
    public uint PeerCredit => PeerBufAlloc - (RxCount - PeerFwdCnt) is var c && c <= PeerBufAlloc ? c : 0;

    public (uint Guest, uint Host) Key => (GuestPort, HostPort);

    /// <summary>A quarter of our buffer was forwarded since we last told the guest: time for a CREDIT_UPDATE.</summary>
    public bool WantsCreditUpdate => FwdCnt - LastAdvertisedFwdCnt >= BufAlloc / 4;

    /// <summary>Whether the connection may send the guest data now (established, readable, with credit).</summary>
    public bool CanSendToGuest => State == VsockConnectionState.Established && Readable && PeerCredit > 0;

    /// <summary>Takes one guest packet addressed to this connection (its credit fields already taken).</summary>
    public VsockReply OnGuestPacket(in VsockHeader hdr, ReadOnlySpan<byte> payload)
    {
        PeerBufAlloc = hdr.BufAlloc;
        PeerFwdCnt = hdr.FwdCnt;
        switch (hdr.Op)
        {
            case VsockHeader.VIRTIO_VSOCK_OP_RESPONSE when State == VsockConnectionState.LocalInit:
                State = VsockConnectionState.Established;
                return SendToHost(Encoding.ASCII.GetBytes($"OK {HostPort}\n"), countCredit: false);
            case VsockHeader.VIRTIO_VSOCK_OP_RW when State == VsockConnectionState.Established:
                return SendToHost(payload, countCredit: true);
            case VsockHeader.VIRTIO_VSOCK_OP_CREDIT_UPDATE:
                return VsockReply.None; // credit already taken from the header; RX resumes data
            case VsockHeader.VIRTIO_VSOCK_OP_CREDIT_REQUEST:
                return VsockReply.CreditUpdate;
            case VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN:
                return VsockReply.Reset; // Firecracker closes the host side and confirms with RST
            case VsockHeader.VIRTIO_VSOCK_OP_RST:
                return VsockReply.Close;
            default:
                return VsockReply.Invalid;
        }
    }

    /// <summary>Stamps our credit into a packet for the guest and remembers it as advertised.</summary>
    public void StampCredit(ref VsockHeader hdr)
    {
        hdr.BufAlloc = BufAlloc;
        hdr.FwdCnt = FwdCnt;
        LastAdvertisedFwdCnt = FwdCnt;
    }

    /// <summary>
    /// Reads host data for the guest into <paramref name="payload"/> (at most <paramref name="room"/> bytes and the
    /// guest's credit) and fills <paramref name="hdr"/> (RW, or SHUTDOWN when the host closed). Returns the payload
    /// length, or -1 when there is nothing to send now (the read would block).
    /// </summary>
    public int ReadForGuest(Span<byte> payload, int room, out VsockHeader hdr)
    {
        hdr = default;
        int want = (int)Math.Min((uint)room, PeerCredit);
        int n;
        try
        {
            n = want == 0 ? -1 : Socket.Receive(payload[..want]);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            Readable = false;
            return -1;
        }
        catch (SocketException)
        {
            n = 0;
        }

        if (n < 0)
        {
            return -1;
        }

        hdr.SrcCid = VsockHeader.VMADDR_CID_HOST;
        hdr.SrcPort = HostPort;
        hdr.DstPort = GuestPort;
        hdr.Type = VsockHeader.VIRTIO_VSOCK_TYPE_STREAM;
        if (n == 0)
        {
            // Host closed: tell the guest, wait for its RST.
            Readable = false;
            State = VsockConnectionState.Closing;
            hdr.Op = VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN;
            hdr.Flags = VsockHeader.VIRTIO_VSOCK_SHUTDOWN_RCV | VsockHeader.VIRTIO_VSOCK_SHUTDOWN_SEND;
        }
        else
        {
            hdr.Op = VsockHeader.VIRTIO_VSOCK_OP_RW;
            hdr.Len = (uint)n;
            RxCount += (uint)n;
        }

        StampCredit(ref hdr);
        return n;
    }

    /// <summary>The host socket became writable: sends what the guest sent and it could not take.</summary>
    public VsockReply FlushToHost()
    {
        if (PendingToHost.Count == 0)
        {
            return VsockReply.None;
        }

        byte[] pending = [.. PendingToHost];
        int sent = TrySend(pending);
        PendingToHost.RemoveRange(0, sent);
        FwdCnt += (uint)sent;
        if (PendingToHost.Count == 0)
        {
            loop.Modify(Registration!, Epoll.EPOLLIN | Epoll.EPOLLET);
        }

        return WantsCreditUpdate ? VsockReply.CreditUpdate : VsockReply.None;
    }

    public void Close()
    {
        Registration?.Dispose();
        Socket.Dispose();
    }

    private VsockReply SendToHost(ReadOnlySpan<byte> data, bool countCredit)
    {
        if (PendingToHost.Count > 0)
        {
            PendingToHost.AddRange(data);
            // The guest ignored our credit: that is a protocol violation; reset the connection.
            return PendingToHost.Count > BufAlloc ? VsockReply.Reset : VsockReply.None;
        }

        int sent = TrySend(data);
        if (sent < data.Length)
        {
            PendingToHost.AddRange(data[sent..]);
            loop.Modify(Registration!, Epoll.EPOLLIN | Epoll.EPOLLOUT | Epoll.EPOLLET);
        }

        if (countCredit)
        {
            FwdCnt += (uint)sent;
        }

        return WantsCreditUpdate ? VsockReply.CreditUpdate : VsockReply.None;
    }

    private int TrySend(ReadOnlySpan<byte> data)
    {
        try
        {
            return data.IsEmpty ? 0 : Socket.Send(data);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return 0;
        }
        catch (SocketException)
        {
            HostEof = true;
            return data.Length;
        }
    }
}
