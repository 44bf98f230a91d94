using static Kindling.Vmm.Mmds.Net.NetConstants;

namespace Kindling.Vmm.Mmds.Net;

/// <summary>
/// One guest TCP connection to the metadata service (passive open on port 80). Small and strict: in-order data
/// only (out-of-order and out-of-window segments are dropped and re-ACKed), go-back-N retransmission of our data,
/// bounded receive and send buffers, FIN in both directions, RST. Not thread-safe: the stack serializes calls.
/// </summary>
internal sealed class TcpConnection
{
    public const int ReceiveWindow = 8192;
    public const int MaxSendBuffered = 128 * 1024;
    public const ushort Mss = 1400;
    public const int MaxRetransmits = 8;

    private readonly Action<byte[]> _send;
    private readonly Func<MmdsHttpRequest, MmdsHttpResponse> _respond;
    private readonly byte[] _guestMac;
    private readonly uint _mmdsIp;
    private readonly byte[] _received = new byte[ReceiveWindow];
    private readonly List<byte> _unacked = [];
    private int _receivedCount;
    private uint _iss;
    private uint _sndUna;
    private uint _sndNxt;
    private uint _rcvNxt;
    private uint _irs;
    private int _peerWindow;
    private bool _closeAfterResponse;
    private bool _finQueued;
    private bool _finSent;
    private bool _peerFin;
    private int _retransmits;

    public TcpConnection(ReadOnlySpan<byte> guestMac, uint guestIp, ushort guestPort, uint mmdsIp, uint iss,
        Action<byte[]> send, Func<MmdsHttpRequest, MmdsHttpResponse> respond, long now)
    {
        _guestMac = guestMac.ToArray();
        GuestIp = guestIp;
        GuestPort = guestPort;
        _mmdsIp = mmdsIp;
        _iss = iss;
        _send = send;
        _respond = respond;
        LastActivity = now;
        LastSend = now;
    }

    public uint GuestIp { get; }
    public ushort GuestPort { get; }
    public TcpState State { get; private set; } = TcpState.Listen;
    public long LastActivity { get; private set; }
    public long LastSend { get; private set; }
    public bool HasUnacknowledged => _sndUna != _sndNxt;

    /// <summary>Handles a SYN that opens this connection: answers SYN-ACK.</summary>
    public void Open(in TcpSegment syn, long now)
    {
        _irs = syn.Sequence;
        _rcvNxt = syn.Sequence + 1;
        _sndUna = _iss;
        _sndNxt = _iss + 1;
        _peerWindow = syn.Window;
        State = TcpState.SynReceived;
        LastActivity = now;
        SendSynAck(now);
    }

    public void OnSegment(in TcpSegment seg, long now)
    {
        LastActivity = now;
        if (seg.Has(TcpRst))
        {
            // RFC 5961: only an in-window RST resets the connection.
            if (InWindow(seg.Sequence))
            {
                State = TcpState.Closed;
            }

            return;
        }

        if (seg.Has(TcpSyn))
        {
            if (State == TcpState.SynReceived && seg.Sequence == _irs)
            {
                SendSynAck(now);
            }
            else
            {
                SendAck(now);
            }

            return;
        }

        if (!seg.Has(TcpAck))
        {
            return;
        }

        uint ack = seg.Acknowledgment;
        if (SeqLt(_sndUna, ack) && SeqLe(ack, _sndNxt))
        {
            uint acked = ack - _sndUna;
            if (State == TcpState.SynReceived)
            {
                acked--; // the SYN's sequence number
                State = TcpState.Established;
            }

            int dataAcked = (int)Math.Min(acked, (uint)_unacked.Count);
            _unacked.RemoveRange(0, dataAcked);
            _sndUna = ack;
            _retransmits = 0;
            if (_finSent && ack == _sndNxt)
            {
                State = _peerFin ? TcpState.Closed : TcpState.FinWait2;
            }
        }
        else if (State == TcpState.SynReceived)
        {
            return;
        }

        _peerWindow = seg.Window;
        ReceivePayload(seg, now);
        Pump(now);
    }

    /// <summary>Retransmits unacknowledged data (go-back-N) after <paramref name="rtoTicks"/>; false when the peer is gone.</summary>
    public bool OnTimer(long now, long rtoTicks)
    {
        if (!HasUnacknowledged || now - LastSend < rtoTicks)
        {
            return true;
        }

        if (++_retransmits > MaxRetransmits)
        {
            return false;
        }

        if (State == TcpState.SynReceived)
        {
            SendSynAck(now);
            return true;
        }

        _sndNxt = _sndUna;
        _finSent = false;
        Pump(now);
        return true;
    }

    /// <summary>Aborts with a RST (timeouts, shutdown).</summary>
    public void Reset(long now)
    {
        Emit(_sndNxt, TcpRst | TcpAck, ReadOnlySpan<byte>.Empty, now);
        State = TcpState.Closed;
    }

    private void ReceivePayload(in TcpSegment seg, long now)
    {
        int length = seg.Payload.Length;
        bool fin = seg.Has(TcpFin);
        if (length == 0 && !fin)
        {
            return;
        }

        int offset = (int)(_rcvNxt - seg.Sequence);
        if (offset < 0 || offset > length || (offset == length && !fin) || _peerFin)
        {
            // Out of order / beyond what we expect, or an old retransmission: drop, re-ACK what we have.
            SendAck(now);
            return;
        }

        ReadOnlySpan<byte> fresh = seg.Payload[offset..];
        int room = _received.Length - _receivedCount;
        int take = Math.Min(room, fresh.Length);
        fresh[..take].CopyTo(_received.AsSpan(_receivedCount));
        _receivedCount += take;
        _rcvNxt += (uint)take;
        if (fin && take == fresh.Length)
        {
            _rcvNxt++;
            _peerFin = true;
            _finQueued = true;
            if (State == TcpState.FinWait2)
            {
                State = TcpState.Closed;
            }
        }

        ServeRequests();
        SendAck(now);
    }

    private void ServeRequests()
    {
        while (!_closeAfterResponse && _unacked.Count < MaxSendBuffered && _receivedCount > 0)
        {
            HttpParseStatus status = MmdsHttpRequestParser.TryParse(
                _received.AsSpan(0, _receivedCount), out MmdsHttpRequest? request, out int consumed, out MmdsHttpResponse? error);
            if (status == HttpParseStatus.Incomplete)
            {
                if (_receivedCount == _received.Length)
                {
                    Queue(new MmdsHttpResponse(413, MmdsHttpResponse.TextPlain, "Request too large.") { Close = true });
                }

                return;
            }

            MmdsHttpResponse response = status == HttpParseStatus.Complete ? _respond(request!) : error!;
            if (request?.Header("Connection") is { } connection && connection.Equals("close", StringComparison.OrdinalIgnoreCase))
            {
                response = response with { Close = true };
            }

            _received.AsSpan(consumed, _receivedCount - consumed).CopyTo(_received);
            _receivedCount -= consumed;
            Queue(response);
        }
    }

    private void Queue(MmdsHttpResponse response)
    {
        _unacked.AddRange(response.ToBytes());
        if (response.Close)
        {
            _closeAfterResponse = true;
            _finQueued = true;
            _receivedCount = 0;
        }
    }

    private void Pump(long now)
    {
        if (State is TcpState.SynReceived or TcpState.Closed)
        {
            return;
        }

        if (_finSent)
        {
            return; // nothing follows our FIN; a retransmission clears _finSent first
        }

        int inFlight = (int)(_sndNxt - _sndUna);
        int window = Math.Max(_peerWindow, 1);
        while (inFlight < _unacked.Count && inFlight < window)
        {
            int size = Math.Min(Math.Min(Mss, _unacked.Count - inFlight), window - inFlight);
            byte[] chunk = _unacked.GetRange(inFlight, size).ToArray();
            Emit(_sndNxt, TcpAck | TcpPsh, chunk, now);
            _sndNxt += (uint)size;
            inFlight += size;
        }

        if (_finQueued && !_finSent && inFlight == _unacked.Count)
        {
            Emit(_sndNxt, TcpFin | TcpAck, ReadOnlySpan<byte>.Empty, now);
            _sndNxt++;
            _finSent = true;
            State = _peerFin ? TcpState.LastAck : TcpState.FinWait1;
        }
    }

    private void SendSynAck(long now)
    {
        LastSend = now;
        _send(FrameBuilder.Tcp(_guestMac, _mmdsIp, GuestIp, HttpPort, GuestPort, _iss, _rcvNxt, TcpSyn | TcpAck, Window, Mss, ReadOnlySpan<byte>.Empty));
    }

    private void SendAck(long now) => Emit(_sndNxt, TcpAck, ReadOnlySpan<byte>.Empty, now, countsAsSend: false);

    private void Emit(uint sequence, byte flags, ReadOnlySpan<byte> payload, long now, bool countsAsSend = true)
    {
        if (countsAsSend)
        {
            LastSend = now;
        }

        _send(FrameBuilder.Tcp(_guestMac, _mmdsIp, GuestIp, HttpPort, GuestPort, sequence, _rcvNxt, flags, Window, 0, payload));
    }

    private ushort Window => (ushort)(_received.Length - _receivedCount);

    private bool InWindow(uint sequence) => SeqLe(_rcvNxt, sequence) && SeqLt(sequence, _rcvNxt + (uint)Math.Max((int)Window, 1));

    private static bool SeqLt(uint a, uint b) => (int)(a - b) < 0;

    private static bool SeqLe(uint a, uint b) => (int)(a - b) <= 0;
}

/// <summary>RFC 9293 connection states used by the passive-only MMDS endpoint.</summary>
internal enum TcpState
{
    Listen,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    LastAck,
    Closed,
}
