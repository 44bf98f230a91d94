using System.Buffers.Binary;
using static Kindling.Vmm.Mmds.Net.NetConstants;

namespace Kindling.Vmm.Mmds.Net;

/// <summary>A parsed TCP segment (header fields and payload), checksum verified.</summary>
internal readonly ref struct TcpSegment
{
    public ushort SourcePort { get; init; }
    public ushort DestinationPort { get; init; }
    public uint Sequence { get; init; }
    public uint Acknowledgment { get; init; }
    public byte Flags { get; init; }
    public ushort Window { get; init; }
    public ReadOnlySpan<byte> Payload { get; init; }

    public bool Has(byte flag) => (Flags & flag) != 0;

    /// <summary>Parses <paramref name="segment"/> (the IPv4 payload); null error on success.</summary>
    public static string? TryParse(ReadOnlySpan<byte> segment, uint sourceIp, uint destinationIp, out TcpSegment parsed)
    {
        parsed = default;
        if (segment.Length < TcpMinHeaderLength)
        {
            return "TCP segment shorter than its header";
        }

        int dataOffset = (segment[12] >> 4) * 4;
        if (dataOffset < TcpMinHeaderLength || dataOffset > segment.Length)
        {
            return $"bad TCP data offset {dataOffset}";
        }

        uint sum = Checksum.PseudoHeader(sourceIp, destinationIp, IpProtocolTcp, segment.Length);
        if (Checksum.Fold(Checksum.Sum(segment, sum)) != 0)
        {
            return "bad TCP checksum";
        }

        parsed = new TcpSegment
        {
            SourcePort = BinaryPrimitives.ReadUInt16BigEndian(segment),
            DestinationPort = BinaryPrimitives.ReadUInt16BigEndian(segment[2..]),
            Sequence = BinaryPrimitives.ReadUInt32BigEndian(segment[4..]),
            Acknowledgment = BinaryPrimitives.ReadUInt32BigEndian(segment[8..]),
            Flags = (byte)(segment[13] & 0x3F),
            Window = BinaryPrimitives.ReadUInt16BigEndian(segment[14..]),
            Payload = segment[dataOffset..],
        };
        return null;
    }
}
