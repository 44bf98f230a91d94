using System.Buffers.Binary;
using static Kindling.Vmm.Mmds.Net.NetConstants;

namespace Kindling.Vmm.Mmds.Net;

/// <summary>Builds the frames the MMDS stack sends to the guest.</summary>
internal static class FrameBuilder
{
    private static int _ipId;

    public static byte[] ArpReply(ReadOnlySpan<byte> requesterMac, uint requesterIp, uint mmdsIp)
    {
        byte[] frame = new byte[EthernetHeaderLength + ArpPacketLength];
        Span<byte> f = frame;
        WriteEthernet(f, requesterMac, EtherTypeArp);
        Span<byte> arp = f[EthernetHeaderLength..];
        BinaryPrimitives.WriteUInt16BigEndian(arp, ArpHardwareEthernet);
        BinaryPrimitives.WriteUInt16BigEndian(arp[2..], EtherTypeIpv4);
        arp[4] = MacLength;
        arp[5] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], ArpOperationReply);
        MmdsMac.CopyTo(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], mmdsIp);
        requesterMac.CopyTo(arp[18..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[24..], requesterIp);
        return frame;
    }

    public static byte[] Tcp(
        ReadOnlySpan<byte> guestMac, uint mmdsIp, uint guestIp, ushort sourcePort, ushort destinationPort,
        uint sequence, uint acknowledgment, byte flags, ushort window, ushort mss, ReadOnlySpan<byte> payload)
    {
        int optionLength = mss > 0 ? 4 : 0;
        int tcpLength = TcpMinHeaderLength + optionLength + payload.Length;
        int ipLength = Ipv4MinHeaderLength + tcpLength;
        byte[] frame = new byte[EthernetHeaderLength + ipLength];
        Span<byte> f = frame;
        WriteEthernet(f, guestMac, EtherTypeIpv4);

        Span<byte> ip = f.Slice(EthernetHeaderLength, Ipv4MinHeaderLength);
        ip[0] = (Ipv4Version << 4) | (Ipv4MinHeaderLength / 4);
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)ipLength);
        BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)Interlocked.Increment(ref _ipId));
        BinaryPrimitives.WriteUInt16BigEndian(ip[6..], Ipv4FlagDontFragment);
        ip[8] = DefaultTtl;
        ip[9] = IpProtocolTcp;
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], mmdsIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], guestIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum.Fold(Checksum.Sum(ip)));

        Span<byte> tcp = f.Slice(EthernetHeaderLength + Ipv4MinHeaderLength, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], destinationPort);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], acknowledgment);
        tcp[12] = (byte)(((TcpMinHeaderLength + optionLength) / 4) << 4);
        tcp[13] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], window);
        if (mss > 0)
        {
            tcp[20] = TcpOptionMss;
            tcp[21] = 4;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[22..], mss);
        }

        payload.CopyTo(tcp[(TcpMinHeaderLength + optionLength)..]);
        uint sum = Checksum.PseudoHeader(mmdsIp, guestIp, IpProtocolTcp, tcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Fold(Checksum.Sum(tcp, sum)));
        return frame;
    }

    private static void WriteEthernet(Span<byte> frame, ReadOnlySpan<byte> destination, ushort etherType)
    {
        destination.CopyTo(frame);
        MmdsMac.CopyTo(frame[MacLength..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[(2 * MacLength)..], etherType);
    }
}
