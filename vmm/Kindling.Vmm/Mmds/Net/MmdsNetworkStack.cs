using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography;
using Kindling.Vmm.Devices.Virtio.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using static Kindling.Vmm.Mmds.Net.NetConstants;

namespace Kindling.Vmm.Mmds.Net;

/// <summary>
/// The metadata service's network endpoint inside the VMM, hooked into virtio-net: answers ARP for the MMDS
/// address, terminates TCP port 80 for it and serves HTTP through <see cref="MmdsHttpResponder"/>. Frames for that
/// address never reach the TAP; every other frame passes through. Guest frames are hostile: malformed ones are
/// dropped (debug log), never thrown out; connections, buffers and the outgoing queue are bounded.
/// </summary>
public sealed partial class MmdsNetworkStack : IFrameInterceptor, IDisposable
{
    public const int DefaultMaxConnections = 32;
    public const int MaxPendingFrames = 1024;
    public static readonly IPAddress DefaultAddress = IPAddress.Parse("169.254.169.254");
    public static readonly TimeSpan RetransmitTimeout = TimeSpan.FromMilliseconds(500);
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan TimerPeriod = TimeSpan.FromMilliseconds(100);

    private readonly object _gate = new();
    private readonly MmdsHttpResponder _responder;
    private readonly uint _address;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly int _maxConnections;
    private readonly Dictionary<(uint Ip, ushort Port), TcpConnection> _connections = [];
    private readonly Queue<byte[]> _pending = new();
    private readonly ITimer _timer;
    private long _dropped;
    private long _internalErrors;

    public MmdsNetworkStack(MmdsHttpResponder responder, TimeProvider time, IPAddress? address = null, ILogger? logger = null,
        int maxConnections = DefaultMaxConnections)
    {
        _responder = responder;
        _time = time;
        _logger = logger ?? NullLogger.Instance;
        _maxConnections = maxConnections;
        _address = BinaryPrimitives.ReadUInt32BigEndian((address ?? DefaultAddress).GetAddressBytes());
        _timer = time.CreateTimer(_ => OnTimer(), null, TimerPeriod, TimerPeriod);
    }

    public event Action? FramesPending;

    public bool HasPendingFrames
    {
        get
        {
            lock (_gate)
            {
                return _pending.Count > 0;
            }
        }
    }

    /// <summary>Open connections (for metrics and tests).</summary>
    public int ConnectionCount
    {
        get
        {
            lock (_gate)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>Frames for the MMDS address that were malformed or refused.</summary>
    public long DroppedFrames => Interlocked.Read(ref _dropped);

    /// <summary>Frames whose handling hit a bug (an exception caught at the boundary); zero in a healthy stack.</summary>
    public long InternalErrors => Interlocked.Read(ref _internalErrors);

    public bool TryIntercept(ReadOnlySpan<byte> frame)
    {
        bool consumed;
        int before;
        lock (_gate)
        {
            before = _pending.Count;
            try
            {
                consumed = Handle(frame);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Defence in depth: a parsing bug must not take the VMM down; the frame is dropped.
                LogDropped(_logger, e.Message);
                Interlocked.Increment(ref _dropped);
                Interlocked.Increment(ref _internalErrors);
                consumed = true;
            }
        }

        if (_pending.Count > before)
        {
            FramesPending?.Invoke();
        }

        return consumed;
    }

    public bool TryDequeue(Span<byte> buffer, out int length)
    {
        lock (_gate)
        {
            if (_pending.TryPeek(out byte[]? frame) && frame.Length <= buffer.Length)
            {
                _pending.Dequeue();
                frame.CopyTo(buffer);
                length = frame.Length;
                return true;
            }

            length = 0;
            return false;
        }
    }

    public void Dispose() => _timer.Dispose();

    private bool Handle(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeaderLength)
        {
            return false;
        }

        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[(2 * MacLength)..]);
        ReadOnlySpan<byte> sourceMac = frame.Slice(MacLength, MacLength);
        ReadOnlySpan<byte> payload = frame[EthernetHeaderLength..];
        return etherType switch
        {
            EtherTypeArp => HandleArp(payload),
            EtherTypeIpv4 => HandleIpv4(sourceMac, payload),
            _ => false,
        };
    }

    private bool HandleArp(ReadOnlySpan<byte> arp)
    {
        if (arp.Length < ArpPacketLength)
        {
            return false;
        }

        uint target = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        if (target != _address)
        {
            return false;
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(arp) != ArpHardwareEthernet || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIpv4
            || arp[4] != MacLength || arp[5] != 4)
        {
            return Drop("ARP for the MMDS address with unsupported hardware/protocol types");
        }

        if (BinaryPrimitives.ReadUInt16BigEndian(arp[6..]) != ArpOperationRequest)
        {
            return Drop("ARP for the MMDS address that is not a request");
        }

        ReadOnlySpan<byte> senderMac = arp.Slice(8, MacLength);
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp[14..]);
        Enqueue(FrameBuilder.ArpReply(senderMac, senderIp, _address));
        return true;
    }

    private bool HandleIpv4(ReadOnlySpan<byte> sourceMac, ReadOnlySpan<byte> ip)
    {
        if (ip.Length < Ipv4MinHeaderLength || BinaryPrimitives.ReadUInt32BigEndian(ip[16..]) != _address)
        {
            return false; // not for us (or too short to say): the TAP decides
        }

        int headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ip[0] >> 4 != Ipv4Version || headerLength < Ipv4MinHeaderLength || totalLength < headerLength || totalLength > ip.Length)
        {
            return Drop("bad IPv4 version or lengths");
        }

        if (Checksum.Fold(Checksum.Sum(ip[..headerLength])) != 0)
        {
            return Drop("bad IPv4 header checksum");
        }

        ushort fragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        if ((fragment & Ipv4FlagMoreFragments) != 0 || (fragment & Ipv4FragmentOffsetMask) != 0)
        {
            return Drop("IPv4 fragment");
        }

        if (ip[9] != IpProtocolTcp)
        {
            return Drop($"IP protocol {ip[9]}");
        }

        uint sourceIp = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        string? error = TcpSegment.TryParse(ip[headerLength..totalLength], sourceIp, _address, out TcpSegment seg);
        if (error is not null)
        {
            return Drop(error);
        }

        HandleTcp(sourceMac, sourceIp, seg);
        return true;
    }

    private void HandleTcp(ReadOnlySpan<byte> guestMac, uint guestIp, in TcpSegment seg)
    {
        long now = _time.GetTimestamp();
        if (seg.DestinationPort != HttpPort)
        {
            RefuseWithReset(guestMac, guestIp, seg);
            return;
        }

        var key = (guestIp, seg.SourcePort);
        if (_connections.TryGetValue(key, out TcpConnection? connection))
        {
            connection.OnSegment(seg, now);
            if (connection.State == TcpState.Closed)
            {
                _connections.Remove(key);
            }

            return;
        }

        if (seg.Has(TcpRst))
        {
            return;
        }

        if (!seg.Has(TcpSyn) || seg.Has(TcpAck))
        {
            RefuseWithReset(guestMac, guestIp, seg);
            return;
        }

        if (_connections.Count >= _maxConnections)
        {
            Drop($"connection limit {_maxConnections} reached");
            RefuseWithReset(guestMac, guestIp, seg);
            return;
        }

        connection = new TcpConnection(guestMac, guestIp, seg.SourcePort, _address, BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(sizeof(uint))),
            Enqueue, _responder.Respond, now);
        connection.Open(seg, now);
        _connections[key] = connection;
    }

    /// <summary>RFC 9293 §3.10.7.1: a RST for a segment that belongs to no connection.</summary>
    private void RefuseWithReset(ReadOnlySpan<byte> guestMac, uint guestIp, in TcpSegment seg)
    {
        if (seg.Has(TcpRst))
        {
            return;
        }

        uint length = (uint)seg.Payload.Length + (seg.Has(TcpSyn) ? 1u : 0) + (seg.Has(TcpFin) ? 1u : 0);
        byte[] reset = seg.Has(TcpAck)
            ? FrameBuilder.Tcp(guestMac, _address, guestIp, seg.DestinationPort, seg.SourcePort, seg.Acknowledgment, 0, TcpRst, 0, 0, [])
            : FrameBuilder.Tcp(guestMac, _address, guestIp, seg.DestinationPort, seg.SourcePort, 0, seg.Sequence + length, TcpRst | TcpAck, 0, 0, []);
        Enqueue(reset);
    }

    private void OnTimer()
    {
        int before;
        int after;
        lock (_gate)
        {
            before = _pending.Count;
            long now = _time.GetTimestamp();
            long rto = (long)(RetransmitTimeout.TotalSeconds * _time.TimestampFrequency);
            long idle = (long)(IdleTimeout.TotalSeconds * _time.TimestampFrequency);
            foreach (KeyValuePair<(uint, ushort), TcpConnection> kv in _connections.ToArray())
            {
                TcpConnection c = kv.Value;
                if (now - c.LastActivity >= idle || !c.OnTimer(now, rto))
                {
                    c.Reset(now);
                    _connections.Remove(kv.Key);
                }
            }

            after = _pending.Count;
        }

        if (after > before)
        {
            FramesPending?.Invoke();
        }
    }

    private void Enqueue(byte[] frame)
    {
        if (_pending.Count >= MaxPendingFrames)
        {
            Drop("outgoing queue full");
            return;
        }

        _pending.Enqueue(frame);
    }

    private bool Drop(string why)
    {
        Interlocked.Increment(ref _dropped);
        LogDropped(_logger, why);
        return true;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "MMDS: dropped a guest frame: {Why}")]
    private static partial void LogDropped(ILogger logger, string why);
}
