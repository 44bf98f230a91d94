using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Vsock;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Tests.Devices;

namespace Kindling.Vmm.Tests.Devices.Virtio.Vsock;

/// <summary>After a restore the host side of every vsock connection is gone; the guest hears it as a transport reset.</summary>
public sealed class VirtioVsockRestoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-vsock-restore-").FullName;
    private readonly ManualEventLoop _loop = new();

    public void Dispose()
    {
        _loop.Dispose();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public void SendTransportReset_RestoredDeviceWithEventBuffer_WritesTheResetEventAndInterrupts()
    {
        using var saved = new VirtioVsock(3, Path.Combine(_dir, "a.sock"), _loop);
        var h = new DeviceHarness(saved);
        VirtQueueBuilder events = h.Queues[VirtioVsock.EventQueue];
        GuestAddress buffer = events.Alloc(8);
        h.Memory.Write(buffer, 0xffff_ffffU);
        events.Push(DriverBuffer.DeviceWrites(buffer, 8));
        MmioTransportState state = h.Transport.SaveState();

        using var restored = new VirtioVsock(3, Path.Combine(_dir, "b.sock"), _loop);
        var interrupt = new CountingInterrupt();
        var transport = new MmioTransport(restored, h.Memory, interrupt);
        transport.RestoreState(state);
        bool sent = restored.SendTransportReset();

        Assert.True(sent);
        UsedElement used = events.ReadUsed(0);
        Assert.Equal(4u, used.Length);
        Assert.Equal(VirtioVsock.VIRTIO_VSOCK_EVENT_TRANSPORT_RESET, h.Memory.Read<uint>(buffer));
        Assert.Equal(1, interrupt.Count);
        Assert.Equal(0, restored.ConnectionCount);
    }

    [Fact]
    public void SendTransportReset_NoEventBufferPosted_ReportsNothingSent()
    {
        using var saved = new VirtioVsock(3, Path.Combine(_dir, "a.sock"), _loop);
        var h = new DeviceHarness(saved);
        using var restored = new VirtioVsock(3, Path.Combine(_dir, "b.sock"), _loop);
        new MmioTransport(restored, h.Memory, new CountingInterrupt()).RestoreState(h.Transport.SaveState());

        Assert.False(restored.SendTransportReset());
        Assert.Equal(0, h.Queues[VirtioVsock.EventQueue].UsedIdx);
    }
}
