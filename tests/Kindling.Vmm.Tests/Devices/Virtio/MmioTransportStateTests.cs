using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio;

/// <summary>Transport and queue state survive a snapshot: a restored device picks up where the saved one stopped.</summary>
public sealed class MmioTransportStateTests : IDisposable
{
    private const int Sectors = 16;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"kindling-snap-blk-{Guid.NewGuid():N}.img");

    public MmioTransportStateTests()
    {
        byte[] image = new byte[Sectors * 512];
        for (int i = 0; i < image.Length; i++)
        {
            image[i] = (byte)(i / 512);
        }

        File.WriteAllBytes(_path, image);
    }

    public void Dispose() => File.Delete(_path);

    private static (GuestAddress Data, GuestAddress Status) PublishRead(DeviceHarness h, ulong sector)
    {
        VirtQueueBuilder q = h.Q;
        GuestAddress hdr = q.Alloc(16);
        h.Memory.Write(hdr, new VirtioBlkOutHdr { Type = BlockRequest.VIRTIO_BLK_T_IN, Sector = sector });
        GuestAddress data = q.Alloc(512);
        GuestAddress status = q.Alloc(1);
        h.Memory.Write(status, (byte)0xff);
        q.Publish(q.AddChain(DriverBuffer.DeviceReads(hdr, 16), DriverBuffer.DeviceWrites(data, 512), DriverBuffer.DeviceWrites(status, 1)));
        return (data, status);
    }

    [Fact]
    public void RestoreState_BlockRequestInFlightAtPause_CompletesAfterRestore()
    {
        var h = new DeviceHarness(new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, readOnly: true)));
        PublishRead(h, 1);
        h.Driver.Notify(0);
        Assert.Equal(1, h.Q.UsedIdx);
        (GuestAddress data, GuestAddress status) = PublishRead(h, 3); // published; the VM is paused before the device runs it

        MmioTransportState saved = h.Transport.SaveState();
        var interrupt = new CountingInterrupt();
        var restored = new MmioTransport(new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, readOnly: true)), h.Memory, interrupt);
        restored.RestoreState(saved);
        h.Q.SetUsedEvent(1); // the driver wants an interrupt once the second request is used
        restored.KickQueues();

        Assert.True(restored.IsActivated);
        Assert.Equal(2, h.Q.UsedIdx); // the first request is not served twice
        Assert.Equal(0, h.Memory.Read<byte>(status));
        Assert.Equal(3, h.Memory.Read<byte>(data));
        Assert.Equal(1, interrupt.Count);
        Assert.Equal(saved.DriverFeatures, restored.SaveState().DriverFeatures);
    }

    [Fact]
    public void SaveState_RoundTrip_RegistersAndQueuesEqual()
    {
        var h = new DeviceHarness(new VirtioRng());
        MmioTransportState saved = h.Transport.SaveState();
        var restored = new MmioTransport(new VirtioRng(), h.Memory, new CountingInterrupt());

        restored.RestoreState(saved);
        MmioTransportState again = restored.SaveState();

        Assert.Equal(saved with { Queues = [] }, again with { Queues = [] });
        Assert.Equal(saved.Queues, again.Queues);
        Assert.Equal(VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK | VirtioSpec.DRIVER_OK, again.Status);
    }

    [Fact]
    public void RestoreState_OtherDeviceType_RefusedAndTransportReset()
    {
        var h = new DeviceHarness(new VirtioRng());
        MmioTransportState saved = h.Transport.SaveState() with { DeviceType = VirtioSpec.VIRTIO_ID_BLOCK };
        var restored = new MmioTransport(new VirtioRng(), h.Memory, new CountingInterrupt());

        ArgumentException e = Assert.Throws<ArgumentException>(() => restored.RestoreState(saved));

        Assert.Contains("device type", e.Message, StringComparison.Ordinal);
        Assert.False(restored.IsActivated);
        Assert.Equal(0u, restored.DeviceStatus);
    }

    [Fact]
    public void RestoreState_QueueRingOutsideGuestMemory_Refused()
    {
        var h = new DeviceHarness(new VirtioRng());
        MmioTransportState saved = h.Transport.SaveState();
        QueueState bad = saved.Queues[0] with { UsedRing = DeviceHarness.RamLow + 0x1000 }; // in the hole
        var restored = new MmioTransport(new VirtioRng(), h.Memory, new CountingInterrupt());

        ArgumentException e = Assert.Throws<ArgumentException>(() => restored.RestoreState(saved with { Queues = [bad] }));

        Assert.Contains("outside guest RAM", e.Message, StringComparison.Ordinal);
        Assert.False(restored.IsActivated);
    }

    [Fact]
    public void SwapDisk_RestoredCloneGetsItsOwnFile_RequestsAfterRestoreReadTheNewFile()
    {
        string overlay = _path + ".overlay";
        File.WriteAllBytes(overlay, Enumerable.Repeat((byte)0xab, 2 * Sectors * 512).ToArray());
        try
        {
            var h = new DeviceHarness(new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, readOnly: true)));
            MmioTransportState saved = h.Transport.SaveState();
            using var block = new VirtioBlock("rootfs", DiskBackend.Open("rootfs", _path, readOnly: true));
            var interrupt = new CountingInterrupt();
            var restored = new MmioTransport(block, h.Memory, interrupt);
            restored.RestoreState(saved);

            block.SwapDisk(DiskBackend.Open("rootfs", overlay, readOnly: true));
            (GuestAddress data, GuestAddress status) = PublishRead(h, 0);
            restored.KickQueues();

            Assert.Equal(0, h.Memory.Read<byte>(status));
            Assert.Equal(0xab, h.Memory.Read<byte>(data));
            Assert.Equal(VirtioInterrupt.VIRTIO_MMIO_INT_CONFIG, restored.InterruptStatus & VirtioInterrupt.VIRTIO_MMIO_INT_CONFIG); // capacity doubled
            Assert.Throws<VirtioDeviceException>(() => block.SwapDisk(DiskBackend.Open("rootfs", overlay, readOnly: false)));
        }
        finally
        {
            File.Delete(overlay);
        }
    }
}
