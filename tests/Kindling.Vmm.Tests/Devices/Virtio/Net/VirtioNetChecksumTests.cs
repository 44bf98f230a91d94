using System.Buffers.Binary;
using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Mmds.Net;
using Kindling.Vmm.Tests.Mmds.Net;

namespace Kindling.Vmm.Tests.Devices.Virtio.Net;

/// <summary>Frames as Linux sends them with VIRTIO_NET_F_CSUM: the TCP checksum field holds only the pseudo-header sum.</summary>
public sealed class VirtioNetChecksumTests
{
    private const int EthernetIpHeaders = 14 + 20;
    private const int TcpChecksumOffset = 16;

    /// <summary>A SYN to the metadata service as Linux leaves it for the device: checksum partial, NEEDS_CSUM set.</summary>
    private static (byte[] Frame, ushort Correct, VirtioNetHeader Header) PartialSyn()
    {
        byte[] frame = GuestFrames.Tcp(40000, 1000, 0, GuestFrames.Syn);
        ushort correct = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(EthernetIpHeaders + TcpChecksumOffset));
        int tcpLength = frame.Length - EthernetIpHeaders;
        uint pseudo = (GuestFrames.GuestIp >> 16) + (GuestFrames.GuestIp & 0xFFFF) + (GuestFrames.MmdsIp >> 16) + (GuestFrames.MmdsIp & 0xFFFF) + 6u + (uint)tcpLength;
        while (pseudo >> 16 != 0)
        {
            pseudo = (pseudo & 0xFFFF) + (pseudo >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(EthernetIpHeaders + TcpChecksumOffset), (ushort)pseudo);
        var header = new VirtioNetHeader { Flags = VirtioNetChecksum.FlagNeedsCsum, CsumStart = EthernetIpHeaders, CsumOffset = TcpChecksumOffset };
        return (frame, correct, header);
    }

    [Fact]
    public void Complete_PartialTcpChecksum_GivesTheFullChecksum()
    {
        (byte[] frame, ushort correct, VirtioNetHeader header) = PartialSyn();

        Assert.True(VirtioNetChecksum.Complete(header, frame));

        Assert.Equal(correct, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(EthernetIpHeaders + TcpChecksumOffset)));
    }

    [Fact]
    public void Complete_NoNeedsCsumFlag_LeavesTheFrame()
    {
        (byte[] frame, _, VirtioNetHeader header) = PartialSyn();
        byte[] before = (byte[])frame.Clone();

        Assert.True(VirtioNetChecksum.Complete(header with { Flags = 0 }, frame));

        Assert.Equal(before, frame);
    }

    [Theory]
    [InlineData(200, 16)] // csum_start beyond the frame
    [InlineData(34, 60)]  // the checksum field beyond the frame
    public void Complete_HeaderOutsideTheFrame_FalseAndUnchanged(int start, int offset)
    {
        (byte[] frame, _, VirtioNetHeader header) = PartialSyn();
        byte[] before = (byte[])frame.Clone();

        Assert.False(VirtioNetChecksum.Complete(header with { CsumStart = (ushort)start, CsumOffset = (ushort)offset }, frame));

        Assert.Equal(before, frame);
    }

    [Fact]
    public void Transmit_PartialChecksumSynToTheMetadataService_IsAnsweredWithSynAck()
    {
        var time = new FakeTimeProvider();
        var stack = new MmdsNetworkStack(new MmdsHttpResponder(new MmdsDataStore(time)), time);
        using var tap = new SocketTap();
        var h = new DeviceHarness(new VirtioNet("eth0", tap, GuestFrames.GuestMac, interceptor: stack), features: ulong.MaxValue);
        VirtQueueBuilder rx = h.Queues[VirtioNet.RxQueue], tx = h.Queues[VirtioNet.TxQueue];
        GuestAddress rxBuffer = rx.Alloc(2048);
        rx.Push(DriverBuffer.DeviceWrites(rxBuffer, 2048));

        // ARP first, as the guest would, so the stack knows the guest's MAC.
        Send(h, tx, new VirtioNetHeader(), GuestFrames.ArpRequest(GuestFrames.MmdsIp));
        GuestAddress rxBuffer2 = rx.Alloc(2048);
        rx.Push(DriverBuffer.DeviceWrites(rxBuffer2, 2048));
        (byte[] syn, _, VirtioNetHeader header) = PartialSyn();
        Send(h, tx, header, syn);

        byte[] reply = new byte[14 + 20 + 20];
        h.Memory.Read(rxBuffer2.Add(VirtioNetHeader.Size), reply);
        Assert.Equal(GuestFrames.Syn | GuestFrames.Ack, reply[EthernetIpHeaders + 13]);
        tap.Host.ReceiveTimeout = 1; // nothing of it reached the TAP
        Assert.Throws<System.Net.Sockets.SocketException>(() => tap.Host.Receive(new byte[100]));
    }

    private static void Send(DeviceHarness h, VirtQueueBuilder tx, VirtioNetHeader header, byte[] frame)
    {
        byte[] chain = new byte[VirtioNetHeader.Size + frame.Length];
        System.Runtime.InteropServices.MemoryMarshal.Write(chain, header);
        frame.CopyTo(chain, VirtioNetHeader.Size);
        GuestAddress at = tx.Alloc((ulong)chain.Length);
        h.Memory.Write(at, chain);
        tx.Push(DriverBuffer.DeviceReads(at, (uint)chain.Length));
        h.Driver.Notify(VirtioNet.TxQueue);
    }
}
