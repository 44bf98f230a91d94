using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Kindling.Vmm.EventLoop;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Vsock;

/// <summary>
/// virtio-vsock (virtio 1.2 §5.10) in Firecracker's hybrid style: guest stream ports are bridged to host Unix
/// sockets. A host client connects to <see cref="UdsPath"/> and sends <c>CONNECT &lt;port&gt;\n</c>; once the guest
/// accepts it reads <c>OK &lt;hostport&gt;\n</c>. A guest connection to port P is bridged to <c>&lt;uds_path&gt;_P</c>.
/// Queues: rx (0), tx (1), event (2). Needs the event loop (sockets are watched there).
/// </summary>
public sealed class VirtioVsock : VirtioDeviceBase, IDisposable
{
    public const int RxQueue = 0;
    public const int TxQueue = 1;
    public const int EventQueue = 2;
    public const ushort QueueSize = 256;

    /// <summary>Largest payload per packet we send or accept.</summary>
    public const int MaxPayload = 64 * 1024;

    private const int MaxConnectLine = 32;
    private const int MaxControlPackets = 1024;
    private const uint FirstHostPort = 1u << 30;

    private readonly Socket _listener;
    private readonly EventRegistration _listenerRegistration;
    private readonly Dictionary<(uint Guest, uint Host), VsockConnection> _connections = [];
    private readonly List<PendingHostClient> _pendingHost = [];
    private readonly Queue<VsockHeader> _control = new();
    private readonly byte[] _buffer = new byte[VsockHeader.Size + MaxPayload];
    private readonly byte[] _config = new byte[8];
    private uint _nextHostPort = FirstHostPort;

    public VirtioVsock(ulong guestCid, string udsPath, EpollLoop loop, ILogger? logger = null)
        : base(VirtioSpec.VIRTIO_ID_VSOCK, VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX), [QueueSize, QueueSize, QueueSize], loop, logger)
    {
        if (guestCid <= VsockHeader.VMADDR_CID_HOST || guestCid > uint.MaxValue)
        {
            throw new VirtioDeviceException($"vsock: guest_cid {guestCid} must be above 2 and fit 32 bits");
        }

        GuestCid = guestCid;
        UdsPath = udsPath;
        BinaryPrimitives.WriteUInt64LittleEndian(_config, guestCid);
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

        _listenerRegistration = loop.Register(_listener.SafeHandle, LibcEvents.EPOLLIN, _ => RunLocked(AcceptHostClients));
    }

    public ulong GuestCid { get; }

    public string UdsPath { get; }

    /// <summary>Control packets (RST, RESPONSE…) dropped because the guest posted no RX buffers.</summary>
    public long DroppedControlPackets { get; private set; }

    /// <summary>Open connections (for tests and metrics).</summary>
    public int ConnectionCount => _connections.Count;

    public override void ReadConfig(ulong offset, Span<byte> data) => CopyConfig(_config, offset, data);

    public override void Reset()
    {
        foreach (VsockConnection c in _connections.Values)
        {
            Close(c);
        }

        _connections.Clear();
        _control.Clear();
        base.Reset();
    }

    public override void ProcessQueue(int queueIndex)
    {
        if (queueIndex == TxQueue)
        {
            RunQueue(TxQueue);
        }

        if (queueIndex != EventQueue)
        {
            ProcessRx();
        }
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
            Close(c);
        }

        File.Delete(UdsPath);
    }

    // ---- guest → host (TX queue) ----

    protected override ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        if (queueIndex != TxQueue)
        {
            return ChainOutcome.Completed;
        }

        if (chain.WritableLength != 0 || chain.ReadableLength < VsockHeader.Size)
        {
            Warnings.Warn("vsock: TX chain {Head} malformed; dropped", chain.Head);
            return ChainOutcome.Completed;
        }

        int total = (int)Math.Min(chain.ReadableLength, (ulong)_buffer.Length);
        int offset = 0;
        for (int i = 0; i < chain.Count && offset < total; i++)
        {
            int n = Math.Min((int)chain[i].Length, total - offset);
            memory.Read(chain[i].Address, _buffer.AsSpan(offset, n));
            offset += n;
        }

        VsockHeader hdr = MemoryMarshal.Read<VsockHeader>(_buffer);
        if (hdr.Len > total - VsockHeader.Size)
        {
            Warnings.Warn("vsock: TX packet claims {Len} payload bytes, carries {Have}; dropped", hdr.Len, total - VsockHeader.Size);
            return ChainOutcome.Completed;
        }

        HandleGuestPacket(hdr, _buffer.AsSpan(VsockHeader.Size, (int)hdr.Len));
        return ChainOutcome.Completed;
    }

    private void HandleGuestPacket(VsockHeader hdr, ReadOnlySpan<byte> payload)
    {
        if (hdr.SrcCid != GuestCid || hdr.DstCid != VsockHeader.VMADDR_CID_HOST || hdr.Type != VsockHeader.VIRTIO_VSOCK_TYPE_STREAM)
        {
            if (hdr.Op != VsockHeader.VIRTIO_VSOCK_OP_RST)
            {
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort, null);
            }

            return;
        }

        _connections.TryGetValue((hdr.SrcPort, hdr.DstPort), out VsockConnection? conn);
        if (conn is not null)
        {
            conn.PeerBufAlloc = hdr.BufAlloc;
            conn.PeerFwdCnt = hdr.FwdCnt;
        }

        switch (hdr.Op)
        {
            case VsockHeader.VIRTIO_VSOCK_OP_REQUEST when conn is null:
                ConnectToHost(hdr);
                break;
            case VsockHeader.VIRTIO_VSOCK_OP_RESPONSE when conn is { State: VsockConnectionState.LocalInit }:
                conn.State = VsockConnectionState.Established;
                SendToHost(conn, Encoding.ASCII.GetBytes($"OK {conn.HostPort}\n"), countCredit: false);
                break;
            case VsockHeader.VIRTIO_VSOCK_OP_RW when conn is { State: VsockConnectionState.Established }:
                SendToHost(conn, payload, countCredit: true);
                break;
            case VsockHeader.VIRTIO_VSOCK_OP_CREDIT_UPDATE when conn is not null:
                break; // credit already taken from the header; ProcessRx resumes data
            case VsockHeader.VIRTIO_VSOCK_OP_CREDIT_REQUEST when conn is not null:
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_CREDIT_UPDATE, conn.HostPort, conn.GuestPort, conn);
                break;
            case VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN when conn is not null:
                // Firecracker closes the host side and confirms with RST.
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, conn.HostPort, conn.GuestPort, null);
                Remove(conn);
                break;
            case VsockHeader.VIRTIO_VSOCK_OP_RST:
                if (conn is not null)
                {
                    Remove(conn);
                }

                break;
            default:
                Warnings.Warn("vsock: op {Op} for {Src}->{Dst} not valid now; RST", hdr.Op, hdr.SrcPort, hdr.DstPort);
                QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort, null);
                if (conn is not null)
                {
                    Remove(conn);
                }

                break;
        }
    }

    private void ConnectToHost(VsockHeader hdr)
    {
        string path = $"{UdsPath}_{hdr.DstPort.ToString(CultureInfo.InvariantCulture)}";
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            socket.Blocking = false;
        }
        catch (SocketException e)
        {
            if (Logger.IsEnabled(LogLevel.Information))
            {
                Logger.LogInformation("vsock: guest connection to port {Port} refused: {Path}: {Error}", hdr.DstPort, path, e.Message);
            }

            socket.Dispose();
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, hdr.DstPort, hdr.SrcPort, null);
            return;
        }

        var conn = new VsockConnection(hdr.SrcPort, hdr.DstPort, socket, VsockConnectionState.Established)
        {
            PeerBufAlloc = hdr.BufAlloc,
            PeerFwdCnt = hdr.FwdCnt,
        };
        Add(conn);
        QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RESPONSE, conn.HostPort, conn.GuestPort, conn);
    }

    private void SendToHost(VsockConnection conn, ReadOnlySpan<byte> data, bool countCredit)
    {
        if (conn.PendingToHost.Count > 0)
        {
            conn.PendingToHost.AddRange(data);
        }
        else
        {
            int sent = TrySend(conn, data);
            if (sent < data.Length)
            {
                conn.PendingToHost.AddRange(data[sent..]);
                Loop!.Modify(conn.Registration!, LibcEvents.EPOLLIN | LibcEvents.EPOLLOUT | LibcEvents.EPOLLET);
            }

            if (countCredit)
            {
                conn.FwdCnt += (uint)sent;
            }

            MaybeCreditUpdate(conn);
            return;
        }

        if (conn.PendingToHost.Count > VsockConnection.BufAlloc)
        {
            // The guest ignored our credit: that is a protocol violation; reset the connection.
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_RST, conn.HostPort, conn.GuestPort, null);
            Remove(conn);
        }
    }

    private int TrySend(VsockConnection conn, ReadOnlySpan<byte> data)
    {
        try
        {
            return data.IsEmpty ? 0 : conn.Socket.Send(data);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            return 0;
        }
        catch (SocketException)
        {
            conn.HostEof = true;
            return data.Length;
        }
    }

    private void FlushToHost(VsockConnection conn)
    {
        if (conn.PendingToHost.Count == 0)
        {
            return;
        }

        byte[] pending = [.. conn.PendingToHost];
        int sent = TrySend(conn, pending);
        conn.PendingToHost.RemoveRange(0, sent);
        conn.FwdCnt += (uint)sent;
        if (conn.PendingToHost.Count == 0)
        {
            Loop!.Modify(conn.Registration!, LibcEvents.EPOLLIN | LibcEvents.EPOLLET);
        }

        MaybeCreditUpdate(conn);
    }

    private void MaybeCreditUpdate(VsockConnection conn)
    {
        // Tell the guest about freed buffer space once a quarter of it has been forwarded.
        if (conn.FwdCnt - conn.LastAdvertisedFwdCnt >= VsockConnection.BufAlloc / 4)
        {
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_CREDIT_UPDATE, conn.HostPort, conn.GuestPort, conn);
        }
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
            pending.Registration = Loop!.Register(client.SafeHandle, LibcEvents.EPOLLIN, _ => RunLocked(() => ReadConnectLine(pending)));
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
            var conn = new VsockConnection(port, hostPort, pending.Socket, VsockConnectionState.LocalInit);
            Add(conn);
            QueueControl(VsockHeader.VIRTIO_VSOCK_OP_REQUEST, hostPort, port, conn);
            ProcessRx();
            return;
        }
    }

    private void DropPending(PendingHostClient pending, string why)
    {
        Logger.LogWarning("vsock: host client on {Path} {Why}; closed", UdsPath, why);
        pending.Registration?.Dispose();
        pending.Socket.Dispose();
        _pendingHost.Remove(pending);
    }

    private void Add(VsockConnection conn)
    {
        _connections[conn.Key] = conn;
        conn.Registration = Loop!.Register(conn.Socket.SafeHandle, LibcEvents.EPOLLIN | LibcEvents.EPOLLET, events => RunLocked(() =>
        {
            if (!_connections.ContainsKey(conn.Key))
            {
                return;
            }

            if ((events & LibcEvents.EPOLLOUT) != 0)
            {
                FlushToHost(conn);
            }

            if ((events & (LibcEvents.EPOLLIN | LibcEvents.EPOLLHUP | LibcEvents.EPOLLERR)) != 0)
            {
                conn.Readable = true;
                ProcessRx();
            }
        }));
    }

    private void Remove(VsockConnection conn)
    {
        _connections.Remove(conn.Key);
        Close(conn);
    }

    private static void Close(VsockConnection conn)
    {
        conn.Registration?.Dispose();
        conn.Socket.Dispose();
    }

    // ---- host → guest (RX queue) ----

    private void QueueControl(ushort op, uint srcPort, uint dstPort, VsockConnection? conn)
    {
        var hdr = new VsockHeader
        {
            SrcCid = VsockHeader.VMADDR_CID_HOST,
            DstCid = GuestCid,
            SrcPort = srcPort,
            DstPort = dstPort,
            Type = VsockHeader.VIRTIO_VSOCK_TYPE_STREAM,
            Op = op,
            Flags = op == VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN ? VsockHeader.VIRTIO_VSOCK_SHUTDOWN_RCV | VsockHeader.VIRTIO_VSOCK_SHUTDOWN_SEND : 0,
        };
        if (_control.Count >= MaxControlPackets)
        {
            // A guest that sends garbage without posting RX buffers must not grow our memory.
            DroppedControlPackets++;
            return;
        }

        _control.Enqueue(hdr);
        _ = conn;
    }

    private void ProcessRx()
    {
        VirtioActivation? a = Active;
        if (a is null || !a.Queues[RxQueue].Ready)
        {
            return;
        }

        Queue queue = a.Queues[RxQueue];
        bool used = false;
        while (true)
        {
            int length = NextPacket(peek: true);
            if (length == 0)
            {
                break;
            }

            PopResult result = queue.Pop(a.Memory, out DescriptorChain chain);
            if (result == PopResult.Empty)
            {
                break;
            }

            if (result == PopResult.Broken)
            {
                a.Interrupt.NeedsReset($"vsock rx queue: {queue.LastError}");
                return;
            }

            uint written = 0;
            if (result == PopResult.Chain && chain.ReadableLength == 0 && chain.WritableLength >= VsockHeader.Size)
            {
                int room = (int)Math.Min(chain.WritableLength - VsockHeader.Size, (ulong)MaxPayload);
                length = NextPacket(peek: false, room);
                if (length == 0)
                {
                    // Every candidate connection would block: keep the buffer for later.
                    queue.UndoPop();
                    break;
                }

                written = Scatter(a.Memory, chain, length);
            }
            else
            {
                BadChains++;
            }

            queue.AddUsed(a.Memory, chain.Head, written);
            used = true;
        }

        if (used && queue.NeedsNotification(a.Memory))
        {
            a.Interrupt.SignalUsedBuffer();
        }
    }

    /// <summary>
    /// Builds the next packet for the guest into the staging buffer: control packets first, then data from a
    /// readable connection with credit. With <paramref name="peek"/> only says whether one may exist (1) or not (0).
    /// </summary>
    private int NextPacket(bool peek, int room = 0)
    {
        if (_control.Count > 0)
        {
            if (peek)
            {
                return 1;
            }

            VsockHeader hdr = _control.Dequeue();
            StampCredit(ref hdr);
            MemoryMarshal.Write(_buffer, in hdr);
            return VsockHeader.Size;
        }

        foreach (VsockConnection conn in _connections.Values)
        {
            if (conn.State != VsockConnectionState.Established || !conn.Readable || conn.PeerCredit == 0)
            {
                continue;
            }

            if (peek)
            {
                return 1;
            }

            int want = (int)Math.Min((uint)room, conn.PeerCredit);
            int n;
            try
            {
                n = want == 0 ? -1 : conn.Socket.Receive(_buffer.AsSpan(VsockHeader.Size, want));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                conn.Readable = false;
                continue;
            }
            catch (SocketException)
            {
                n = 0;
            }

            if (n < 0)
            {
                continue;
            }

            var hdr = new VsockHeader
            {
                SrcCid = VsockHeader.VMADDR_CID_HOST,
                DstCid = GuestCid,
                SrcPort = conn.HostPort,
                DstPort = conn.GuestPort,
                Type = VsockHeader.VIRTIO_VSOCK_TYPE_STREAM,
            };
            if (n == 0)
            {
                // Host closed: tell the guest, wait for its RST.
                conn.Readable = false;
                conn.State = VsockConnectionState.Closing;
                hdr.Op = VsockHeader.VIRTIO_VSOCK_OP_SHUTDOWN;
                hdr.Flags = VsockHeader.VIRTIO_VSOCK_SHUTDOWN_RCV | VsockHeader.VIRTIO_VSOCK_SHUTDOWN_SEND;
            }
            else
            {
                hdr.Op = VsockHeader.VIRTIO_VSOCK_OP_RW;
                hdr.Len = (uint)n;
                conn.RxCount += (uint)n;
            }

            hdr.BufAlloc = VsockConnection.BufAlloc;
            hdr.FwdCnt = conn.FwdCnt;
            conn.LastAdvertisedFwdCnt = conn.FwdCnt;
            MemoryMarshal.Write(_buffer, in hdr);
            return VsockHeader.Size + n;
        }

        return 0;
    }

    private void StampCredit(ref VsockHeader hdr)
    {
        hdr.BufAlloc = VsockConnection.BufAlloc;
        if (_connections.TryGetValue((hdr.DstPort, hdr.SrcPort), out VsockConnection? conn))
        {
            hdr.FwdCnt = conn.FwdCnt;
            conn.LastAdvertisedFwdCnt = conn.FwdCnt;
        }
    }

    private uint Scatter(IGuestMemory memory, DescriptorChain chain, int length)
    {
        int copied = 0;
        for (int i = 0; i < chain.Count && copied < length; i++)
        {
            int n = Math.Min((int)chain[i].Length, length - copied);
            memory.Write(chain[i].Address, _buffer.AsSpan(copied, n));
            copied += n;
        }

        return (uint)copied;
    }

    private sealed class PendingHostClient(Socket socket)
    {
        public Socket Socket { get; } = socket;

        public List<byte> Line { get; } = [];

        public EventRegistration? Registration { get; set; }
    }
}
