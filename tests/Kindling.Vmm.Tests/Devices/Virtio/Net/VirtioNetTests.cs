using System.Buffers.Binary;
using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio.Net;

public sealed class VirtioNetTests : IDisposable
{
    private static readonly byte[] Mac = [0x06, 0x00, 0xac, 0x10, 0x00, 0x02];
    private readonly SocketTap _tap = new();

    public void Dispose() => _tap.Dispose();

    private static byte[] Frame(int payload, byte fill)
    {
        byte[] f = new byte[VirtioNetHeader.Size + 14 + payload];
        f.AsSpan(VirtioNetHeader.Size).Fill(fill);
        return f;
    }

    private DeviceHarness Harness(ulong features = ulong.MaxValue, IFrameInterceptor? interceptor = null) =>
        new(new VirtioNet("eth0", _tap, Mac, interceptor: interceptor), features: features);

    private static VirtQueueBuilder Rx(DeviceHarness h) => h.Queues[VirtioNet.RxQueue];

    private static VirtQueueBuilder Tx(DeviceHarness h) => h.Queues[VirtioNet.TxQueue];

    [Fact]
    public void Config_ReportsGuestMac()
    {
        DeviceHarness h = Harness();
        byte[] mac = new byte[6];
        h.Driver.ReadConfig(0, mac);
        Assert.Equal(Mac, mac);
        Assert.NotEqual(0UL, h.AckedFeatures & VirtioSpec.Bit(VirtioNet.VIRTIO_NET_F_MAC));
    }

    [Fact]
    public void Activate_GuestOffloads_SetOnTap()
    {
        Harness();
        Assert.Equal(LibcTun.TUN_F_CSUM | LibcTun.TUN_F_TSO4 | LibcTun.TUN_F_TSO6 | LibcTun.TUN_F_UFO, _tap.Offloads);
    }

    [Fact]
    public void Activate_NoGuestCsum_NoOffloads()
    {
        Harness(ulong.MaxValue & ~VirtioSpec.Bit(VirtioNet.VIRTIO_NET_F_GUEST_CSUM));
        Assert.Equal(0u, _tap.Offloads);
    }

    [Fact]
    public void Tx_FrameSplitOverDescriptors_ArrivesWholeOnTap()
    {
        DeviceHarness h = Harness();
        byte[] frame = Frame(100, 0x42);
        GuestAddress hdr = Tx(h).Alloc(12), body = Tx(h).Alloc((ulong)(frame.Length - 12));
        h.Memory.Write(hdr, frame.AsSpan(0, 12));
        h.Memory.Write(body, frame.AsSpan(12));
        ushort head = Tx(h).Push(DriverBuffer.DeviceReads(hdr, 12), DriverBuffer.DeviceReads(body, (uint)(frame.Length - 12)));
        h.Driver.Notify(VirtioNet.TxQueue);
        Assert.Equal(new UsedElement(head, 0), Assert.Single(Tx(h).TakeAllUsed()));
        byte[] got = new byte[VirtioNet.MaxFrame];
        int n = _tap.Host.Receive(got);
        Assert.Equal(frame, got[..n]);
    }

    [Fact]
    public void Tx_PassLargerThanTheDeviceBuffer_EveryFrameReachesTheTapInOrder()
    {
        // Frames are gathered during a queue pass and written when it ends or the device's buffer fills; 8 frames
        // alternating 40000 and 100 bytes overflow it (two largest frames) at least once.
        var tap = new RecordingTap();
        using var net = new VirtioNet("eth0", tap, Mac);
        DeviceHarness h = new(net);
        byte[][] frames = [.. Enumerable.Range(0, 8).Select(i => Frame(i % 2 == 0 ? 40000 : 100, (byte)(i + 1)))];
        ushort[] heads = new ushort[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            GuestAddress at = Tx(h).Alloc((ulong)frames[i].Length);
            h.Memory.Write(at, frames[i]);
            heads[i] = Tx(h).Push(DriverBuffer.DeviceReads(at, (uint)frames[i].Length));
        }

        h.Driver.Notify(VirtioNet.TxQueue);

        Assert.Equal(heads.Select(x => (uint)x), Tx(h).TakeAllUsed().Select(u => u.Id));
        Assert.Equal(frames.Length, tap.Written.Count);
        for (int i = 0; i < frames.Length; i++)
        {
            Assert.Equal(frames[i], tap.Written[i]);
        }

        Assert.Equal(0, net.DroppedFrames);
    }

    [Fact]
    public void Tx_TapRefusesFrames_CountedAsDroppedAndChainsStillReturned()
    {
        var tap = new RecordingTap { Refuse = true };
        using var net = new VirtioNet("eth0", tap, Mac);
        DeviceHarness h = new(net);
        for (int i = 0; i < 3; i++)
        {
            byte[] frame = Frame(64, 0x33);
            GuestAddress at = Tx(h).Alloc((ulong)frame.Length);
            h.Memory.Write(at, frame);
            Tx(h).Push(DriverBuffer.DeviceReads(at, (uint)frame.Length));
        }

        h.Driver.Notify(VirtioNet.TxQueue);

        Assert.Equal(3, Tx(h).TakeAllUsed().Count);
        Assert.Equal(3, net.DroppedFrames);
    }

    [Fact]
    public void Rx_FrameFromTap_LandsInBufferWithNumBuffers()
    {
        DeviceHarness h = Harness();
        GuestAddress buf = Rx(h).Alloc(2048);
        ushort head = Rx(h).Push(DriverBuffer.DeviceWrites(buf, 2048));
        h.Driver.Notify(VirtioNet.RxQueue);
        byte[] frame = Frame(200, 0x17);
        _tap.Host.Send(frame);
        ((VirtioNet)h.Device).OnTapReadable();
        Assert.Equal(new UsedElement(head, (uint)frame.Length), Assert.Single(Rx(h).TakeAllUsed()));
        Assert.Equal(1, h.Memory.Read<ushort>(buf.Add(VirtioNetHeader.NumBuffersOffset)));
        Assert.Equal(0x17, h.Memory.Read<byte>(buf.Add(12)));
        Assert.Equal(1, h.Interrupt.Count);
    }

    [Fact]
    public void Rx_RingBroken_NeedsResetAndStopsServing()
    {
        DeviceHarness h = Harness();
        Rx(h).SetAvailIdx(100); // more than the queue size ahead: the rings are unusable
        _tap.Host.Send(Frame(60, 0x05));
        ((VirtioNet)h.Device).OnTapReadable();
        Assert.NotEqual(0u, h.Driver.Status & VirtioSpec.DEVICE_NEEDS_RESET);

        // Deactivated as every device is on NEEDS_RESET: a sane ring is not served until the driver resets it.
        Rx(h).SetAvailIdx(0);
        Rx(h).Push(DriverBuffer.DeviceWrites(Rx(h).Alloc(2048), 2048));
        ((VirtioNet)h.Device).OnTapReadable();
        Assert.Empty(Rx(h).TakeAllUsed());
    }

    [Fact]
    public void Rx_Mergeable_SpreadsOverChains()
    {
        DeviceHarness h = Harness();
        for (int i = 0; i < 4; i++)
        {
            Rx(h).Push(DriverBuffer.DeviceWrites(Rx(h).Alloc(1000), 1000));
        }

        h.Driver.Notify(VirtioNet.RxQueue);
        byte[] frame = Frame(2500, 0x33);
        _tap.Host.Send(frame);
        ((VirtioNet)h.Device).OnTapReadable();
        List<UsedElement> used = Rx(h).TakeAllUsed();
        Assert.Equal(3, used.Count);
        Assert.Equal(frame.Length, used.Sum(u => (int)u.Length));
    }

    [Fact]
    public void Rx_NoBuffers_FrameWaitsForNotify()
    {
        DeviceHarness h = Harness();
        byte[] frame = Frame(60, 0x01);
        _tap.Host.Send(frame);
        ((VirtioNet)h.Device).OnTapReadable();
        Assert.Empty(Rx(h).TakeAllUsed());
        GuestAddress buf = Rx(h).Alloc(2048);
        Rx(h).Push(DriverBuffer.DeviceWrites(buf, 2048));
        h.Driver.Notify(VirtioNet.RxQueue);
        Assert.Equal((uint)frame.Length, Assert.Single(Rx(h).TakeAllUsed()).Length);
    }

    [Fact]
    public void Interceptor_ConsumesTxAndItsFramesComeFirst()
    {
        var interceptor = new EchoInterceptor();
        DeviceHarness h = Harness(interceptor: interceptor);
        GuestAddress rx1 = Rx(h).Alloc(2048), rx2 = Rx(h).Alloc(2048);
        Rx(h).Push(DriverBuffer.DeviceWrites(rx1, 2048));
        Rx(h).Push(DriverBuffer.DeviceWrites(rx2, 2048));
        _tap.Host.Send(Frame(40, 0xee)); // TAP traffic already waiting

        byte[] frame = Frame(50, 0xaa); // intercepted (first byte 0xaa)
        GuestAddress tx = Tx(h).Alloc((ulong)frame.Length);
        h.Memory.Write(tx, frame);
        Tx(h).Push(DriverBuffer.DeviceReads(tx, (uint)frame.Length));
        h.Driver.Notify(VirtioNet.TxQueue);
        ((VirtioNet)h.Device).OnTapReadable();

        Assert.Equal(1, interceptor.Intercepted);
        Assert.Equal(0xaa, h.Memory.Read<byte>(rx1.Add(12)));  // interceptor reply first
        Assert.Equal(0xee, h.Memory.Read<byte>(rx2.Add(12)));  // then the TAP
        _tap.Host.ReceiveTimeout = 1;
        Assert.Throws<System.Net.Sockets.SocketException>(() => _tap.Host.Receive(new byte[100]));
    }

    [Fact]
    public void ParseMac_Bad_NamesInterface()
    {
        var e = Assert.Throws<VirtioDeviceException>(() => VirtioNet.ParseMac("eth7", "zz:00"));
        Assert.Contains("eth7", e.Message, StringComparison.Ordinal);
        Assert.Equal(Mac, VirtioNet.ParseMac("eth0", "06:00:ac:10:00:02"));
    }

    [Fact]
    public void TapOpen_Missing_NamesHostDevName()
    {
        var e = Assert.Throws<VirtioDeviceException>(() => Tap.Open("kdnoexist0"));
        Assert.Contains("kdnoexist0", e.Message, StringComparison.Ordinal);
    }

    /// <summary>A TAP that keeps every frame written to it (or refuses them all, as a full TAP would).</summary>
    private sealed class RecordingTap : ITapDevice
    {
        public List<byte[]> Written { get; } = [];

        public bool Refuse { get; init; }

        public System.Runtime.InteropServices.SafeHandle Handle => throw new NotSupportedException("no event loop in these tests");

        public int Read(Span<byte> frame) => -1;

        public bool Write(ReadOnlySpan<byte> frame)
        {
            if (!Refuse)
            {
                Written.Add(frame.ToArray());
            }

            return !Refuse;
        }

        public void SetOffload(uint tunFlags)
        {
        }

        public void Dispose()
        {
        }
    }

    /// <summary>Intercepts frames whose first byte is 0xaa and echoes them back.</summary>
    private sealed class EchoInterceptor : IFrameInterceptor
    {
        private readonly Queue<byte[]> _out = new();

        public int Intercepted { get; private set; }

        public bool HasPendingFrames => _out.Count > 0;

        public event Action? FramesPending;

        public bool TryIntercept(ReadOnlySpan<byte> frame)
        {
            if (frame.Length == 0 || frame[0] != 0xaa)
            {
                return false;
            }

            Intercepted++;
            _out.Enqueue(frame.ToArray());
            FramesPending?.Invoke();
            return true;
        }

        public bool TryDequeue(Span<byte> buffer, out int length)
        {
            length = 0;
            if (_out.Count == 0 || _out.Peek().Length > buffer.Length)
            {
                return false;
            }

            byte[] f = _out.Dequeue();
            f.CopyTo(buffer);
            length = f.Length;
            return true;
        }
    }
}
