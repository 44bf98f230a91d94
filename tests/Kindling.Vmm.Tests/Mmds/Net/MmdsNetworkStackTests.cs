using System.Buffers.Binary;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Mmds.Net;

namespace Kindling.Vmm.Tests.Mmds.Net;

public sealed class MmdsNetworkStackTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly MmdsDataStore _store;
    private readonly MmdsNetworkStack _stack;

    public MmdsNetworkStackTests()
    {
        _store = new MmdsDataStore(_time);
        _store.Put(System.Text.Json.Nodes.JsonNode.Parse("""{ "latest": { "secret": "s3cr3t", "meta-data": { "id": "i-1" } } }"""));
        _stack = new MmdsNetworkStack(new MmdsHttpResponder(_store), _time);
    }

    public void Dispose() => _stack.Dispose();

    private static string TokenRequest(int ttl = 60) =>
        $"PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-metadata-token-ttl-seconds: {ttl}\r\n\r\n";

    private static string Get(string path, string? token) =>
        $"GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n" + (token is null ? "" : $"X-metadata-token: {token}\r\n") + "\r\n";

    private static string Body(string response) => response[(response.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];

    [Fact]
    public void TryIntercept_ArpRequestForMmds_RepliesWithMmdsMac()
    {
        Assert.True(_stack.TryIntercept(GuestFrames.ArpRequest(GuestFrames.MmdsIp)));

        byte[] reply = Assert.Single(GuestTcpClient.Drain(_stack));
        Assert.Equal(GuestFrames.GuestMac, reply[..6]);
        Assert.Equal(GuestFrames.MmdsMac, reply[6..12]);
        Assert.Equal(0x0806, BinaryPrimitives.ReadUInt16BigEndian(reply.AsSpan(12)));
        Span<byte> arp = reply.AsSpan(14);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(arp));
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(arp[2..]));
        Assert.Equal(6, arp[4]);
        Assert.Equal(4, arp[5]);
        Assert.Equal(2, BinaryPrimitives.ReadUInt16BigEndian(arp[6..]));
        Assert.Equal(GuestFrames.MmdsMac, arp.Slice(8, 6).ToArray());
        Assert.Equal(GuestFrames.MmdsIp, BinaryPrimitives.ReadUInt32BigEndian(arp[14..]));
        Assert.Equal(GuestFrames.GuestMac, arp.Slice(18, 6).ToArray());
        Assert.Equal(GuestFrames.GuestIp, BinaryPrimitives.ReadUInt32BigEndian(arp[24..]));
    }

    [Fact]
    public void TryIntercept_OtherTraffic_PassesThrough()
    {
        Assert.False(_stack.TryIntercept(GuestFrames.ArpRequest(0xA9FE0001)));
        Assert.False(_stack.TryIntercept(GuestFrames.Tcp(40000, 1, 0, GuestFrames.Syn, destinationIp: 0x08080808)));
        Assert.False(_stack.TryIntercept(new byte[10]));

        Assert.False(_stack.HasPendingFrames);
    }

    [Fact]
    public void Connect_Syn_AnswersSynAckWithMssAndCompletesHandshake()
    {
        var client = new GuestTcpClient(_stack, 40000);

        SentSegment synAck = client.Connect();

        Assert.Equal(80, synAck.SourcePort);
        Assert.Equal(40000, synAck.DestinationPort);
        Assert.Equal(new byte[] { 2, 4, 0x05, 0x78 }, synAck.Options); // MSS 1400
        Assert.True(synAck.Window > 0);
        Assert.Equal(1, _stack.ConnectionCount);
    }

    [Fact]
    public void Http_TokenThenGet_Returns200WithSecret()
    {
        var client = new GuestTcpClient(_stack, 40001);
        client.Connect();

        client.Send(TokenRequest());
        string tokenResponse = client.ReceivedText;
        Assert.StartsWith("HTTP/1.1 200", tokenResponse, StringComparison.Ordinal);
        string token = Body(tokenResponse);
        client.Received.Clear();

        client.Send(Get("/latest/secret", token));

        Assert.StartsWith("HTTP/1.1 200", client.ReceivedText, StringComparison.Ordinal);
        Assert.Equal("s3cr3t", Body(client.ReceivedText));
    }

    [Fact]
    public void Http_GetWithoutToken_Returns401()
    {
        var client = new GuestTcpClient(_stack, 40002);
        client.Connect();

        client.Send(Get("/latest/secret", null));

        Assert.StartsWith("HTTP/1.1 401", client.ReceivedText, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cr3t", client.ReceivedText, StringComparison.Ordinal);
    }

    [Fact]
    public void Http_RequestSplitOverSegments_IsReassembled()
    {
        var client = new GuestTcpClient(_stack, 40003);
        client.Connect();
        string request = TokenRequest();

        client.Send(request[..10]);
        Assert.Empty(client.Received);
        client.Send(request[10..]);

        Assert.StartsWith("HTTP/1.1 200", client.ReceivedText, StringComparison.Ordinal);
    }

    [Fact]
    public void RetransmittedGuestSegment_IsAnsweredOnceAndReAcked()
    {
        var client = new GuestTcpClient(_stack, 40004);
        client.Connect();
        byte[] request = Encoding.ASCII.GetBytes(TokenRequest());
        byte[] segment = GuestFrames.Tcp(40004, client.Seq, client.Ack, GuestFrames.Ack | GuestFrames.Psh, request);

        Assert.True(_stack.TryIntercept(segment));
        List<SentSegment> first = client.ReceiveAll(acknowledge: false);
        Assert.True(_stack.TryIntercept(segment));
        List<SentSegment> second = client.ReceiveAll(acknowledge: false);

        Assert.Contains(first, s => s.Payload.Length > 0);
        SentSegment dupAck = Assert.Single(second);
        Assert.Empty(dupAck.Payload);
        Assert.Equal(client.Seq + (uint)request.Length, dupAck.Ack);
    }

    [Fact]
    public void UnacknowledgedResponse_IsRetransmittedAfterTimeout()
    {
        var client = new GuestTcpClient(_stack, 40005);
        client.Connect();
        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40005, client.Seq, client.Ack, GuestFrames.Ack | GuestFrames.Psh, Encoding.ASCII.GetBytes(TokenRequest()))));
        SentSegment original = GuestTcpClient.Drain(_stack).Select(GuestFrames.ReadTcp).First(s => s.Payload.Length > 0);

        _time.Advance(MmdsNetworkStack.RetransmitTimeout + MmdsNetworkStack.TimerPeriod);

        SentSegment again = GuestTcpClient.Drain(_stack).Select(GuestFrames.ReadTcp).First(s => s.Payload.Length > 0);
        Assert.Equal(original.Seq, again.Seq);
        Assert.Equal(original.Payload, again.Payload);
    }

    [Fact]
    public void OutOfWindowSegment_IsDroppedWithDuplicateAck()
    {
        var client = new GuestTcpClient(_stack, 40006);
        client.Connect();

        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40006, client.Seq + 100_000, client.Ack, GuestFrames.Ack | GuestFrames.Psh, Encoding.ASCII.GetBytes(TokenRequest()))));

        SentSegment ack = GuestFrames.ReadTcp(Assert.Single(GuestTcpClient.Drain(_stack)));
        Assert.Equal(client.Seq, ack.Ack);
        Assert.Empty(ack.Payload);
    }

    [Fact]
    public void Rst_InWindow_ClosesConnection()
    {
        var client = new GuestTcpClient(_stack, 40007);
        client.Connect();

        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40007, client.Seq + 5_000_000, 0, GuestFrames.Rst)));
        Assert.Equal(1, _stack.ConnectionCount);
        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40007, client.Seq, 0, GuestFrames.Rst)));

        Assert.Equal(0, _stack.ConnectionCount);
        Assert.Empty(GuestTcpClient.Drain(_stack));
    }

    [Fact]
    public void SegmentForNoConnection_IsAnsweredWithRst()
    {
        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40008, 5, 77, GuestFrames.Ack)));

        SentSegment rst = GuestFrames.ReadTcp(Assert.Single(GuestTcpClient.Drain(_stack)));
        Assert.True(rst.Has(GuestFrames.Rst));
        Assert.Equal(77u, rst.Seq);
    }

    [Fact]
    public void SynToOtherPort_IsRefusedWithRst()
    {
        Assert.True(_stack.TryIntercept(GuestFrames.Tcp(40009, 5, 0, GuestFrames.Syn, destinationPort: 22)));

        SentSegment rst = GuestFrames.ReadTcp(Assert.Single(GuestTcpClient.Drain(_stack)));
        Assert.True(rst.Has(GuestFrames.Rst) && rst.Has(GuestFrames.Ack));
        Assert.Equal(6u, rst.Ack);
        Assert.Equal(0, _stack.ConnectionCount);
    }

    [Fact]
    public void ConnectionClose_BothSidesFin_ConnectionRemoved()
    {
        var client = new GuestTcpClient(_stack, 40010);
        client.Connect();

        client.Send(Get("/latest/meta-data/id", null).Replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n", StringComparison.Ordinal));
        Assert.True(client.FinReceived, "the stack did not close after Connection: close");
        Assert.Equal(1, _stack.ConnectionCount);
        client.Send("", fin: true);

        Assert.Equal(0, _stack.ConnectionCount);
    }

    [Fact]
    public void GuestFin_AfterRequest_StackAnswersThenFins()
    {
        var client = new GuestTcpClient(_stack, 40011);
        client.Connect();

        client.Send(TokenRequest(), fin: true);

        Assert.StartsWith("HTTP/1.1 200", client.ReceivedText, StringComparison.Ordinal);
        Assert.True(client.FinReceived);
        Assert.Equal(0, _stack.ConnectionCount);
    }

    [Fact]
    public void KeepAlive_TwoRequestsOnOneConnection_BothAnswered()
    {
        var client = new GuestTcpClient(_stack, 40012);
        client.Connect();

        client.Send(TokenRequest() + TokenRequest());

        Assert.Equal(2, client.ReceivedText.Split("HTTP/1.1 200").Length - 1);
    }

    [Fact]
    public void ManyConnections_AreBoundedAndExtraSynsReset()
    {
        for (ushort port = 1000; port < 1100; port++)
        {
            Assert.True(_stack.TryIntercept(GuestFrames.Tcp(port, 1, 0, GuestFrames.Syn)));
        }

        List<SentSegment> replies = GuestTcpClient.Drain(_stack).Select(GuestFrames.ReadTcp).ToList();
        Assert.Equal(MmdsNetworkStack.DefaultMaxConnections, _stack.ConnectionCount);
        Assert.Equal(MmdsNetworkStack.DefaultMaxConnections, replies.Count(r => r.Has(GuestFrames.Syn)));
        Assert.Equal(100 - MmdsNetworkStack.DefaultMaxConnections, replies.Count(r => r.Has(GuestFrames.Rst)));
    }

    [Fact]
    public void IdleConnection_TimesOutAndIsReset()
    {
        var client = new GuestTcpClient(_stack, 40013);
        client.Connect();

        _time.Advance(MmdsNetworkStack.IdleTimeout + MmdsNetworkStack.TimerPeriod);

        Assert.Equal(0, _stack.ConnectionCount);
        Assert.Contains(GuestTcpClient.Drain(_stack).Select(GuestFrames.ReadTcp), s => s.Has(GuestFrames.Rst));
    }

    [Fact]
    public void OversizedRequest_Answers4xxAndCloses()
    {
        var client = new GuestTcpClient(_stack, 40014);
        client.Connect();

        client.Send("GET / HTTP/1.1\r\nX-Junk: " + new string('a', 6000));

        Assert.StartsWith("HTTP/1.1 431", client.ReceivedText, StringComparison.Ordinal);
        Assert.True(client.FinReceived);
    }

    [Theory]
    [InlineData("bad IP checksum")]
    [InlineData("fragment")]
    [InlineData("bad TCP checksum")]
    [InlineData("short IP")]
    public void MalformedFrameForMmds_IsDroppedNotForwarded(string kind)
    {
        byte[] frame = GuestFrames.Tcp(40015, 1, 0, GuestFrames.Syn);
        switch (kind)
        {
            case "bad IP checksum": frame[24] ^= 0xFF; break;
            case "fragment": frame = GuestFrames.Tcp(40015, 1, 0, GuestFrames.Syn, fragment: 0x2000); break;
            case "bad TCP checksum": frame[^1] ^= 0xFF; frame[50] ^= 0x01; break;
            case "short IP": BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), 2000); break;
        }

        Assert.True(_stack.TryIntercept(frame));

        Assert.Equal(0, _stack.ConnectionCount);
        Assert.False(_stack.HasPendingFrames);
        Assert.Equal(1, _stack.DroppedFrames);
    }

    private static string RandomToken(Random random)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/!% ";
        return new string(Enumerable.Range(0, random.Next(1, 100)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
    }

    [Fact]
    public void Fuzz_RandomAndMutatedFrames_NeverThrow()
    {
        var random = new Random(20261122);
        byte[][] seeds =
        [
            GuestFrames.ArpRequest(GuestFrames.MmdsIp),
            GuestFrames.Tcp(50000, 1, 0, GuestFrames.Syn),
            GuestFrames.Tcp(50000, 2, 1, GuestFrames.Ack | GuestFrames.Psh, Encoding.ASCII.GetBytes(TokenRequest())),
        ];
        byte[] rx = new byte[65536];
        for (int i = 0; i < 100_000; i++)
        {
            byte[] frame;
            switch (i % 4)
            {
                case 0:
                    frame = new byte[random.Next(0, 200)];
                    random.NextBytes(frame);
                    break;
                case 1:
                    frame = (byte[])seeds[random.Next(seeds.Length)].Clone();
                    for (int m = random.Next(1, 4); m > 0 && frame.Length > 0; m--)
                    {
                        frame[random.Next(frame.Length)] = (byte)random.Next(256);
                    }

                    if (random.Next(4) == 0)
                    {
                        frame = frame[..random.Next(frame.Length)];
                    }

                    break;
                default:
                    // Well-formed (valid checksums) but arbitrary TCP: random ports, flags, numbers, payload.
                    byte[] payload = new byte[random.Next(0, 300)];
                    random.NextBytes(payload);
                    if (random.Next(3) == 0)
                    {
                        payload = Encoding.ASCII.GetBytes(random.Next(2) == 0 ? TokenRequest(random.Next(-5, 30000)) : Get("/latest/" + random.Next(), RandomToken(random)));
                    }

                    frame = GuestFrames.Tcp((ushort)random.Next(1000, 1040), (uint)random.Next(), (uint)random.Next(), (byte)random.Next(64), payload,
                        window: (ushort)random.Next(65536), destinationPort: (ushort)(random.Next(8) == 0 ? random.Next(65536) : 80));
                    break;
            }

            _stack.TryIntercept(frame);
            while (_stack.TryDequeue(rx, out _))
            {
            }

            if (i % 1000 == 0)
            {
                _time.Advance(TimeSpan.FromMilliseconds(random.Next(0, 2000)));
            }
        }

        Assert.InRange(_stack.ConnectionCount, 0, MmdsNetworkStack.DefaultMaxConnections);
        Assert.True(_stack.DroppedFrames > 0);
        Assert.Equal(0, _stack.InternalErrors);
    }
}
