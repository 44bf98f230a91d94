using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio;

/// <summary>
/// 10⁵ random hostile chains per device (seeded): loops, buffers in the hole or past the end of RAM, wrapping
/// lengths, wrong directions, random indirect tables, bogus heads and avail indices, bad queue sizes. Nothing may
/// escape the device and a guard area that no valid buffer names must stay untouched.
/// </summary>
public sealed class HostileChainTests : IDisposable
{
    private const int Chains = 100_000;
    private const ulong GuardStart = 0xf0000, GuardSize = 0x10000; // inside RAM, never a legitimate buffer
    private const byte GuardByte = 0x5a;
    private readonly string _disk = Path.Combine(Path.GetTempPath(), $"kindling-hostile-{Guid.NewGuid():N}.img");

    public HostileChainTests() => File.WriteAllBytes(_disk, new byte[64 * 512]);

    public void Dispose()
    {
        File.Delete(_disk);
        _tap.Dispose();
        _loop.Dispose();
        Directory.Delete(_vsockDir, true);
    }

    private readonly Net.SocketTap _tap = new();

    private readonly Kindling.Vmm.EventLoop.EpollLoop _loop = new();
    private readonly string _vsockDir = Directory.CreateTempSubdirectory("kindling-hostile-vsock-").FullName;

    public static TheoryData<string> Devices => ["blk", "rng", "net-tx", "net-rx", "vsock-tx", "vsock-rx"];

    private IVirtioDevice Make(string name) => name switch
    {
        "blk" => new VirtioBlock("hostile", DiskBackend.Open("hostile", _disk, readOnly: false)),
        "net-tx" or "net-rx" => new VirtioNet("hostile", _tap),
        "vsock-tx" or "vsock-rx" => new Kindling.Vmm.Devices.Virtio.Vsock.VirtioVsock(3, Path.Combine(_vsockDir, "v.sock"), _loop),
        _ => new VirtioRng(),
    };

    [Theory]
    [MemberData(nameof(Devices))]
    public void RandomChains_NeverThrowNorTouchOutsideBuffers(string deviceName)
    {
        var random = new Random(20261122 + deviceName.Length);
        var h = new DeviceHarness(Make(deviceName));
        int target = deviceName is "net-tx" or "vsock-tx" ? 1 : 0;
        VirtQueueBuilder q = h.Queues[target];
        byte[] frame = new byte[200];
        _tap.Host.Blocking = false;
        h.Memory.GetSpan(new GuestAddress(GuardStart), (int)GuardSize).Fill(GuardByte);
        int resets = 0, badSizes = 0;
        ushort size = h.Queues[0].Size;
        ushort avail = 0;
        for (int i = 0; i < Chains; i++)
        {
            if ((h.Driver.Status & VirtioSpec.DEVICE_NEEDS_RESET) != 0 || !h.Transport.IsActivated)
            {
                resets++;
                h.Driver.WriteRegister(VirtioMmio.Status, 0);
                foreach (VirtQueueBuilder b in h.Queues)
                {
                    b.ResetDriverState();
                }

                if (random.Next(8) == 0)
                {
                    // A driver that picks a queue size that is not a power of two (or above the maximum).
                    h.Driver.Probe();
                    h.Driver.Negotiate(VirtioSpec.Bit(VirtioSpec.VIRTIO_F_VERSION_1));
                    ushort bad = random.Next(2) == 0 ? (ushort)(size - 1) : (ushort)(h.Device.QueueMaxSizes[0] * 2);
                    h.Driver.SetupQueue(0, bad, h.Queues[0].Desc, h.Queues[0].Avail, h.Queues[0].Used);
                    h.Driver.DriverOk();
                    Assert.NotEqual(0u, h.Driver.Status & VirtioSpec.DEVICE_NEEDS_RESET);
                    badSizes++;
                    continue;
                }

                h.Driver.Initialize(ulong.MaxValue, h.Queues);
                avail = 0;
            }

            int count = random.Next(1, 5);
            ushort start = (ushort)random.Next(size);
            for (int d = 0; d < count; d++)
            {
                ushort index = (ushort)((start + d) % size);
                bool last = d == count - 1;
                ushort flags = (ushort)(random.Next(8) & (VirtqDesc.VIRTQ_DESC_F_WRITE | VirtqDesc.VIRTQ_DESC_F_INDIRECT | (random.Next(4) == 0 ? VirtqDesc.VIRTQ_DESC_F_NEXT : 0)));
                if (!last)
                {
                    flags |= VirtqDesc.VIRTQ_DESC_F_NEXT;
                }

                ushort next = random.Next(8) == 0 ? (ushort)random.Next(ushort.MaxValue) : (ushort)((index + 1) % size);
                if (random.Next(16) == 0)
                {
                    next = start; // loop
                }

                (ulong addr, uint len) = RandomBuffer(random, flags);
                q.WriteDescriptor(index, addr, len, flags, next);
                if ((flags & VirtqDesc.VIRTQ_DESC_F_INDIRECT) != 0 && addr >= 0x20000 && addr < 0x50000 && len <= 0x50000 - addr)
                {
                    // Fill the indirect table with more random descriptors.
                    for (uint t = 0; t + 16 <= len && t < 256; t += 16)
                    {
                        (ulong ia, uint il) = RandomBuffer(random, 0);
                        q.WriteDescriptorAt(new GuestAddress(addr + t), ia, il, (ushort)random.Next(8), (ushort)random.Next(20));
                    }
                }
            }

            // Publish; sometimes a bogus head or an avail index jump.
            ushort head = random.Next(64) == 0 ? (ushort)random.Next(ushort.MaxValue) : start;
            h.Memory.Write(q.Avail.Add(4 + (2UL * (ulong)(avail % size))), head);
            avail += random.Next(512) == 0 ? (ushort)random.Next(2, 1000) : (ushort)1;
            h.Memory.Write(q.Avail.Add(2), avail);
            if (random.Next(4) == 0 || i == Chains - 1)
            {
                if (deviceName == "vsock-rx")
                {
                    // A packet from a wrong CID: the device answers RST on the (hostile) RX queue.
                    VirtQueueBuilder tx = h.Queues[1];
                    GuestAddress hdr = tx.Alloc(Kindling.Vmm.Devices.Virtio.Vsock.VsockHeader.Size);
                    h.Memory.Write(hdr, new Kindling.Vmm.Devices.Virtio.Vsock.VsockHeader { SrcCid = 99, DstCid = 2, Type = 1, Op = 1 });
                    tx.Push(DriverBuffer.DeviceReads(hdr, Kindling.Vmm.Devices.Virtio.Vsock.VsockHeader.Size));
                    h.Driver.Notify(1);
                }

                if (deviceName == "net-rx")
                {
                    try
                    {
                        _tap.Host.Send(frame);
                    }
                    catch (System.Net.Sockets.SocketException)
                    {
                        // The device's socket buffer is full: fine.
                    }
                }

                h.Driver.Notify(random.Next(256) == 0 ? random.Next(5) : target);
            }
        }

        byte[] guard = h.Memory.GetSpan(new GuestAddress(GuardStart), (int)GuardSize).ToArray();
        Assert.All(guard, b => Assert.Equal(GuardByte, b));
        Assert.True(((VirtioDeviceBase)h.Device).BadChains > 1000, $"only {((VirtioDeviceBase)h.Device).BadChains} bad chains seen");
        Assert.True(resets > 0);
        Assert.True(badSizes > 0);
    }

    private static (ulong Address, uint Length) RandomBuffer(Random random, ushort flags)
    {
        switch (random.Next(8))
        {
            case 0: return (DeviceHarness.RamLow + (ulong)random.Next(0x1000), 16);                  // hole
            case 1: return (DeviceHarness.HighStart + DeviceHarness.HighSize - 8, 64);               // straddles end of RAM
            case 2: return (ulong.MaxValue - (ulong)random.Next(64), (uint)random.Next(1, 4096));   // wraps
            case 3: return (0x20000 + (ulong)random.Next(0x10000), uint.MaxValue - (uint)random.Next(16)); // huge length
            case 4: return ((ulong)random.NextInt64(), (uint)random.Next());                         // anything
            default:
                // A legitimate-looking buffer in the data area (never in the guard).
                uint len = (flags & VirtqDesc.VIRTQ_DESC_F_INDIRECT) != 0 ? (uint)(16 * random.Next(0, 20)) + (uint)random.Next(2) : (uint)random.Next(0, 2048);
                return (0x20000 + (ulong)random.Next(0x20000), len);
        }
    }
}
