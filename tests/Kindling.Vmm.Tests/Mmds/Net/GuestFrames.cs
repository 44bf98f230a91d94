using System.Buffers.Binary;

namespace Kindling.Vmm.Tests.Mmds.Net;

/// <summary>Builds frames the way a guest's network stack does, and reads the fields of frames sent back.</summary>
internal static class GuestFrames
{
    public static readonly byte[] GuestMac = [0x06, 0x00, 0xAC, 0x10, 0x00, 0x02];
    public static readonly byte[] Broadcast = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    public static readonly byte[] MmdsMac = [0x06, 0x01, 0x23, 0x45, 0x67, 0x01];
    public const uint GuestIp = 0xA9FE0002; // 169.254.0.2
    public const uint MmdsIp = 0xA9FEA9FE;  // 169.254.169.254

    public const byte Fin = 0x01, Syn = 0x02, Rst = 0x04, Psh = 0x08, Ack = 0x10;

    public static byte[] ArpRequest(uint targetIp, uint senderIp = GuestIp)
    {
        byte[] f = new byte[42];
        Broadcast.CopyTo(f, 0);
        GuestMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0806);
        Span<byte> a = f.AsSpan(14);
        BinaryPrimitives.WriteUInt16BigEndian(a, 1);
        BinaryPrimitives.WriteUInt16BigEndian(a[2..], 0x0800);
        a[4] = 6;
        a[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(a[6..], 1);
        GuestMac.CopyTo(a[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(a[14..], senderIp);
        BinaryPrimitives.WriteUInt32BigEndian(a[24..], targetIp);
        return f;
    }

    public static byte[] Tcp(ushort sourcePort, uint seq, uint ack, byte flags, ReadOnlySpan<byte> payload = default,
        ushort window = 65535, ushort destinationPort = 80, uint destinationIp = MmdsIp, ushort fragment = 0x4000)
    {
        int tcpLength = 20 + payload.Length;
        byte[] f = new byte[14 + 20 + tcpLength];
        MmdsMac.CopyTo(f, 0);
        GuestMac.CopyTo(f, 6);
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), 0x0800);
        Span<byte> ip = f.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + tcpLength));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], fragment);
        ip[8] = 64;
        ip[9] = 6;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], GuestIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], destinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum(ip, 0));
        Span<byte> tcp = f.AsSpan(34, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], seq);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], ack);
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        payload.CopyTo(tcp[20..]);
        uint pseudo = (GuestIp >> 16) + (GuestIp & 0xFFFF) + (destinationIp >> 16) + (destinationIp & 0xFFFF) + 6u + (uint)tcpLength;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], InternetChecksum(tcp, pseudo));
        return f;
    }

    public static ushort InternetChecksum(ReadOnlySpan<byte> data, uint sum)
    {
        for (int i = 0; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (data.Length % 2 == 1)
        {
            sum += (uint)(data[^1] << 8);
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }

    /// <summary>The TCP fields of a frame the stack sent (asserting its IPv4 and TCP checksums are right).</summary>
    public static SentSegment ReadTcp(byte[] frame)
    {
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12)));
        Assert.Equal(GuestMac, frame[..6]);
        Assert.Equal(MmdsMac, frame[6..12]);
        Span<byte> ip = frame.AsSpan(14);
        int ihl = (ip[0] & 0xF) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        Assert.Equal(frame.Length - 14, total);
        Assert.Equal(0, InternetChecksum(ip[..ihl], 0));
        Assert.Equal(MmdsIp, BinaryPrimitives.ReadUInt32BigEndian(ip[12..]));
        Assert.Equal(GuestIp, BinaryPrimitives.ReadUInt32BigEndian(ip[16..]));
        Span<byte> tcp = ip[ihl..total];
        uint pseudo = (MmdsIp >> 16) + (MmdsIp & 0xFFFF) + (GuestIp >> 16) + (GuestIp & 0xFFFF) + 6u + (uint)tcp.Length;
        Assert.Equal(0, InternetChecksum(tcp, pseudo));
        int dataOffset = (tcp[12] >> 4) * 4;
        return new SentSegment(
            BinaryPrimitives.ReadUInt16BigEndian(tcp),
            BinaryPrimitives.ReadUInt16BigEndian(tcp[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(tcp[8..]),
            tcp[13],
            BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]),
            tcp[20..dataOffset].ToArray(),
            tcp[dataOffset..].ToArray());
    }
}

internal sealed record SentSegment(ushort SourcePort, ushort DestinationPort, uint Seq, uint Ack, byte Flags, ushort Window, byte[] Options, byte[] Payload)
{
    public bool Has(byte flag) => (Flags & flag) != 0;
}
