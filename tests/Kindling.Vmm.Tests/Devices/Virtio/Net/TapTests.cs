using System.Diagnostics;
using System.Net.Sockets;
using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio.Net;

/// <summary>virtio-net on a real TAP: a second fd on the same interface plays the host (an AF_PACKET socket).</summary>
public sealed class TapTests
{
    private static void Ip(string args)
    {
        using var p = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true })!;
        p.WaitForExit();
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"ip {args}: {p.StandardError.ReadToEnd()}");
        }
    }

    [RootFact]
    public void Tap_TxAppearsOnInterface_AndFrameWrittenToInterfaceArrivesInRx()
    {
        string name = $"kdt{Environment.ProcessId % 100000}";
        Ip($"tuntap add {name} mode tap");
        try
        {
            Ip($"link set {name} up");
            using Tap tap = Tap.Open(name);
            var h = new DeviceHarness(new VirtioNet("eth0", tap, [0x06, 0, 0, 0, 0, 1]));
            int ifindex = int.Parse(File.ReadAllText($"/sys/class/net/{name}/ifindex").Trim(), System.Globalization.CultureInfo.InvariantCulture);
            using var packet = new Socket(AddressFamily.Packet, SocketType.Raw, ProtocolType.Unspecified);
            packet.Bind(new PacketEndPoint(ifindex));
            packet.ReceiveTimeout = 5000;

            // TX: guest → TAP → visible to the packet socket on the interface.
            byte[] frame = new byte[12 + 60];
            byte[] eth = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x06, 0, 0, 0, 0, 1, 0x88, 0xb5]; // local experimental ethertype
            eth.CopyTo(frame, 12);
            frame.AsSpan(26).Fill(0x5c);
            GuestAddress tx = h.Queues[1].Alloc((ulong)frame.Length);
            h.Memory.Write(tx, frame);
            h.Queues[1].Push(Kindling.Testing.DriverBuffer.DeviceReads(tx, (uint)frame.Length));
            h.Driver.Notify(1);
            byte[] got = new byte[2048];
            int n;
            do
            {
                n = packet.Receive(got);
            }
            while (!(n >= 60 && got[12] == 0x88 && got[13] == 0xb5));
            Assert.Equal(frame.AsSpan(12).ToArray(), got[..60]);

            // RX: a frame sent on the interface → TAP → guest RX buffer (the kernel may send its own frames too,
            // e.g. IPv6 router solicitations: skip those).
            GuestAddress[] rx = [.. Enumerable.Range(0, 8).Select(_ => h.Queues[0].Alloc(2048))];
            var heads = rx.ToDictionary(a => h.Queues[0].Push(Kindling.Testing.DriverBuffer.DeviceWrites(a, 2048)), a => a);
            h.Driver.Notify(0);
            byte[] inbound = [0x06, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 9, 0x88, 0xb5, .. Enumerable.Repeat((byte)0x3c, 46)];
            packet.Send(inbound);
            var device = (VirtioNet)h.Device;
            UsedElement? ours = null;
            var sw = Stopwatch.StartNew();
            while (ours is null && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                device.OnTapReadable();
                foreach (UsedElement e in h.Queues[0].TakeAllUsed())
                {
                    GuestAddress a = heads[(ushort)e.Id];
                    if (h.Memory.Read<ushort>(a.Add(12 + 12)) == 0xb588)
                    {
                        ours = e;
                        Assert.Equal((uint)(12 + inbound.Length), e.Length);
                        Assert.Equal(inbound, h.Memory.GetSpan(a.Add(12), inbound.Length).ToArray());
                    }
                }
            }

            Assert.NotNull(ours);
        }
        finally
        {
            Ip($"link del {name}");
        }
    }

    /// <summary>struct sockaddr_ll for binding an AF_PACKET socket to one interface, all protocols.</summary>
    private sealed class PacketEndPoint(int ifindex) : System.Net.EndPoint
    {
        public override AddressFamily AddressFamily => AddressFamily.Packet;

        public override System.Net.SocketAddress Serialize()
        {
            var sa = new System.Net.SocketAddress(AddressFamily.Packet, 20);
            sa[2] = 0x00; // sll_protocol = htons(ETH_P_ALL = 0x0003)
            sa[3] = 0x03;
            BitConverter.GetBytes(ifindex).CopyTo(sa.Buffer.Span[4..]);
            return sa;
        }
    }
}
