using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Kindling.Vmm.Interop;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Vsock;

/// <summary>
/// The host side of virtio-vsock (Firecracker's Unix muxer): the listener on the device's Unix socket and the
/// <c>CONNECT &lt;port&gt;</c> handshake of host clients, guest connections bridged to <c>&lt;uds_path&gt;_P</c>, the
/// table of connections, and the backlog of packets for the guest (control packets first, then data). Runs on the
/// device's event loop under its lock (<paramref name="runLocked"/>); <paramref name="rxReady"/> asks the device to
/// fill RX buffers.
/// </summary>
internal sealed partial class VsockMuxer : IDisposable
{
    private const int MaxConnectLine = 32;
    private const int MaxControlPackets = 1024;
    private const uint FirstHostPort = 1u << 30;

    private readonly ulong _guestCid;
    private readonly string _udsPath;
    private readonly IEventLoop _loop;
    private readonly Action<Action> _runLocked;
    private readonly Action _rxReady;
    private readonly ILogger _logger;
    private readonly GuestWarnings _warnings;
    private readonly Socket _listener;
    private readonly IEventRegistration _listenerRegistration;
    private readonly Dictionary<(uint Guest, uint Host), VsockConnection> _connections = [];
    private readonly List<PendingHostClient> _pendingHost = [];
    private readonly Queue<VsockHeader> _control = new();
    private uint _nextHostPort = FirstHostPort;

    public VsockMuxer(ulong guestCid, string udsPath, IEventLoop loop, Action<Action> runLocked, Action rxReady, ILogger logger, GuestWarnings warnings)
    {
        _guestCid = guestCid;
        _udsPath = udsPath;
        _loop = loop;
        _runLocked = runLocked;
        _rxReady = rxReady;
        _logger = logger;
        _warnings = warnings;
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            if (File.Exists(udsPath))
            {
                File.Delete(udsPath);
            }

            _listener.Bind(new UnixDomainSocketEndPoint(udsPath));
            _listener.Listen(64);
            _listener.Blocking = false;
        }
        catch (Exception e) when (e is SocketException or IOException or UnauthorizedAccessException)
        {
            _listener.Dispose();
            throw new VirtioDeviceException($"vsock: cannot listen on uds_path '{udsPath}': {e.Message}", e);
        }

        _listenerRegistration = loop.Register(_listener.SafeHandle, Epoll.EPOLLIN, _ => runLocked(AcceptHostClients));
    }

    /// <summary>Control packets (RST, RESPONSE…) dropped because the guest posted no RX buffers.</summary>
    public long DroppedControlPackets { get; private set; }

    public int ConnectionCount => _connections.Count;

    /// <summary>Whether a packet for the guest may be waiting (a control packet, or a connection with data and credit).</summary>
    public bool HasPacketForGuest
    {
        get
        {
            if (_control.Count > 0)
            {
                return true;
            }

            foreach (VsockConnection c in _connections.Values)
            {
                if (c.CanSendToGuest)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Closes every connection and drops the backlog (device reset).</summary>
    public void Reset()
    {
        foreach (VsockConnection c in _connections.Values)
        {
            c.Close();
        }

        _connections.Clear();
        _control.Clear();
    }

    public void Dispose()
    {
        _listenerRegistration.Dispose();
        _listener.Dispose();
        foreach (PendingHostClient p in _pendingHost)
        {
            p.Registration?.Dispose();
            p.Socket.Dispose();
        }

        foreach (VsockConnection c in _connections.Values)
        {
            c.Close();
        }

        File.Delete(_udsPath);
    }

    // ---- guest → host ----

    /// <summary>Takes one packet the guest sent (its payload already checked against the header's length).</summary>
    public void OnGuestPacket(in VsockHeader hdr, ReadOnlySpan<byte> payload)
    {
        if (hdr.SrcCid != _guestCid || hdr.DstCid != VsockHeader.VMADDR_CID_HOST || hdr.Type != VsockHeader.VIRTIO_VSOCK_TYPE_STREAM)
        {
            if (hdr.Op != VsockHeader.VIRTIO_VSOCK_OP_RST)
            {
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort);
            }

            return;
        }

        if (!_connections.TryGetValue((hdr.SrcPort, hdr.DstPort), out VsockConnection? conn))
        {
            if (hdr.Op == VsockHeader.VIRTIO_VSOCK_OP_REQUEST)
            {
                ConnectToHost(hdr);
            }
            else if (hdr.Op != VsockHeader.VIRTIO_VSOCK_OP_RST)
            {
                Invalid(hdr);
            }

            return;
        }

        VsockReply reply = conn.OnGuestPacket(hdr, payload);
        if (reply == VsockReply.Invalid)
        {
            Invalid(hdr);
            Remove(conn);
            return;
        }

        Act(conn, reply);
    }

    private void Invalid(in VsockHeader hdr)
    {
        _warnings.Warn("vsock: op {Op} for {Src}->{Dst} not valid now; RST", hdr.Op, hdr.SrcPort, hdr.DstPort);
        QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort);
    }

    private void Act(VsockConnection conn, VsockReply reply)
    {
        switch (reply)
        {
            case VsockReply.CreditUpdate:
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_CREDIT_UPDATE, conn.HostPort, conn.GuestPort);
                break;
            case VsockReply.Reset:
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, conn.HostPort, conn.GuestPort);
                Remove(conn);
                break;
            case VsockReply.Close:
                Remove(conn);
                break;
        }
    }

    private void ConnectToHost(in VsockHeader hdr)
    {
        string path = $"{_udsPath}_{hdr.DstPort.ToString(CultureInfo.InvariantCulture)}";
#pragma warning disable CA2000 // disposed when the connect fails; otherwise the connection owns it and closes it
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Blocking = false;
        }
        catch (SocketException e)
        {
            LogGuestConnectRefused(_logger, hdr.DstPort, path, e.Message);

            socket.Dispose();
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort);
            return;
        }

        var conn = new VsockConnection(hdr.SrcPort, hdr.DstPort, socket, VsockConnectionState.Established, _loop)
        {
            PeerBufAlloc = hdr.BufAlloc,
            PeerFwdCnt = hdr.FwdCnt,
        };
        Add(conn);
#pragma warning restore CA2000
        QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RESPONSE, conn.HostPort, conn.GuestPort);
    }

    // ---- host side ----

    private void AcceptHostClients()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (SocketException)
            {
                return;
            }

            client.Blocking = false;
            var pending = new PendingHostClient(client);
            _pendingHost.Add(pending);
            pending.Registration = _loop.Register(client.SafeHandle, Epoll.EPOLLIN, _ => _runLocked(() => ReadConnectLine(pending)));
        }
    }

    private void ReadConnectLine(PendingHostClient pending)
    {
        Span<byte> one = stackalloc byte[1];
        while (true)
        {
            int n;
            try
            {
                n = pending.Socket.Receive(one);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                return;
            }
            catch (SocketException)
            {
                n = 0;
            }

            if (n == 0 || pending.Line.Count >= MaxConnectLine)
            {
                DropPending(pending, "closed or sent an over-long line before CONNECT");
                return;
            }

            if (one[0] != (byte)'\n')
            {
                pending.Line.Add(one[0]);
                continue;
            }

            string line = Encoding.ASCII.GetString([.. pending.Line]).TrimEnd('\r');
            if (!line.StartsWith("CONNECT ", StringComparison.Ordinal) ||
                !uint.TryParse(line.AsSpan(8), NumberStyles.None, CultureInfo.InvariantCulture, out uint port))
            {
                DropPending(pending, $"sent '{line}', expected 'CONNECT <port>'");
                return;
            }

            pending.Registration?.Dispose();
            _pendingHost.Remove(pending);
            uint hostPort = _nextHostPort++;
            var conn = new VsockConnection(port, hostPort, pending.Socket, VsockConnectionState.LocalInit, _loop);
            Add(conn);
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_REQUEST, hostPort, port);
            _rxReady();
            return;
        }
    }

    private void DropPending(PendingHostClient pending, string why)
    {
        LogHostClientDropped(_logger, _udsPath, why);
        pending.Registration?.Dispose();
        pending.Socket.Dispose();
        _pendingHost.Remove(pending);
    }

    private void Add(VsockConnection conn)
    {
        _connections[conn.Key] = conn;
        conn.Registration = _loop.Register(conn.Socket.SafeHandle, Epoll.EPOLLIN | Epoll.EPOLLET, events => _runLocked(() =>
        {
            if (!_connections.ContainsKey(conn.Key))
            {
                return;
            }

            if ((events & Epoll.EPOLLOUT) != 0)
            {
                Act(conn, conn.FlushToHost());
            }

            if ((events & (Epoll.EPOLLIN | Epoll.EPOLLHUP | Epoll.EPOLLERR)) != 0 && _connections.ContainsKey(conn.Key))
            {
                conn.Readable = true;
                _rxReady();
            }
        }));
    }

    private void Remove(VsockConnection conn)
    {
        _connections.Remove(conn.Key);
        conn.Close();
    }

    // ---- host → guest ----

    private void QueueControl(ushort op, uint srcPort, uint dstPort)
    {
        if (_control.Count >= MaxControlPackets)
        {
            // A guest that sends garbage without posting RX buffers must not grow our memory.
            DroppedControlPackets++;
            return;
        }

        _control.Enqueue(new VsockHeader
        {
            SrcCid = VsockHeader.VMADDR_CID_HOST,
            DstCid = _guestCid,
            SrcPort = srcPort,
            DstPort = dstPort,
            Type = VsockHeader.VIRTIO_VSOCK_TYPE_STREAM,
            Op = op,
            Flags = op == VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN ? VsockHeader.VIRTIO_VSOCK_SHUTDOWN_RCV | VsockHeader.VIRTIO_VSOCK_SHUTDOWN_SEND : 0,
        });
    }

    /// <summary>
    /// Writes the next packet for the guest, header then payload (at most <paramref name="room"/> bytes), into
    /// <paramref name="packet"/>: control packets first, then data from a readable connection with credit. Returns
    /// its length, or 0 when there is none now (every candidate connection would block).
    /// </summary>
    public int NextPacketForGuest(Span<byte> packet, int room)
    {
        if (_control.TryDequeue(out VsockHeader control))
        {
            control.BufAlloc = VsockConnection.BufAlloc;
            if (_connections.TryGetValue((control.DstPort, control.SrcPort), out VsockConnection? owner))
            {
                owner.StampCredit(ref control);
            }

            MemoryMarshal.Write(packet, in control);
            return VsockHeader.Size;
        }

        foreach (VsockConnection conn in _connections.Values)
        {
            if (!conn.CanSendToGuest)
            {
                continue;
            }

            int n = conn.ReadForGuest(packet[VsockHeader.Size..], room, out VsockHeader hdr);
            if (n < 0)
            {
                continue;
            }

            hdr.DstCid = _guestCid;
            MemoryMarshal.Write(packet, in hdr);
            return VsockHeader.Size + n;
        }

        return 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "vsock: guest connection to port {Port} refused: {Path}: {Error}")]
    private static partial void LogGuestConnectRefused(ILogger logger, uint port, string path, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vsock: host client on {Path} {Why}; closed")]
    private static partial void LogHostClientDropped(ILogger logger, string path, string why);

    private sealed class PendingHostClient(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public List<byte> Line { get; } = [];

        public IEventRegistration? Registration { get; set; }
    }
}
