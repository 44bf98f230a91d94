namespace Kindling.Vmm.Mmds.Net;

/// <summary>Ethernet, ARP, IPv4 and TCP field values and offsets (IEEE 802.3, RFC 826, RFC 791, RFC 9293).</summary>
internal static class NetConstants
{
    public const int EthernetHeaderLength = 14;
    public const int MacLength = 6;
    public const ushort EtherTypeIpv4 = 0x0800;
    public const ushort EtherTypeArp = 0x0806;

    public const int ArpPacketLength = 28;
    public const ushort ArpHardwareEthernet = 1;
    public const ushort ArpOperationRequest = 1;
    public const ushort ArpOperationReply = 2;

    public const int Ipv4MinHeaderLength = 20;
    public const byte Ipv4Version = 4;
    public const byte IpProtocolTcp = 6;
    public const ushort Ipv4FlagMoreFragments = 0x2000;
    public const ushort Ipv4FlagDontFragment = 0x4000;
    public const ushort Ipv4FragmentOffsetMask = 0x1FFF;
    public const byte DefaultTtl = 64;

    public const int TcpMinHeaderLength = 20;
    public const byte TcpFin = 0x01;
    public const byte TcpSyn = 0x02;
    public const byte TcpRst = 0x04;
    public const byte TcpPsh = 0x08;
    public const byte TcpAck = 0x10;
    public const byte TcpOptionMss = 2;
    public const ushort HttpPort = 80;

    /// <summary>Firecracker's MMDS MAC address (06:01:23:45:67:01), used as the source of every frame the stack sends.</summary>
    public static readonly byte[] MmdsMac = [0x06, 0x01, 0x23, 0x45, 0x67, 0x01];
}
