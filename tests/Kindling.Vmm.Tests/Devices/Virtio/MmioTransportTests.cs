using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Rng;

namespace Kindling.Vmm.Tests.Devices.Virtio;

public sealed class MmioTransportTests
{
    private static DeviceHarness Fresh() => new(new VirtioRng(), initialize: false);

    [Fact]
    public void Probe_ReportsMagicVersionAndDeviceId()
    {
        DeviceHarness h = Fresh();
        Assert.Equal(VirtioSpec.VIRTIO_ID_RNG, h.Driver.Probe());
        Assert.Equal(VirtioMmio.KindlingVendorId, h.Driver.ReadRegister(VirtioMmio.VendorID));
    }

    [Fact]
    public void Negotiate_WithoutVersion1_RefusesFeaturesOk()
    {
        DeviceHarness h = Fresh();
        Assert.False(h.Driver.Negotiate(0));
    }

    [Fact]
    public void Negotiate_UnknownBits_RefusesFeaturesOk()
    {
        DeviceHarness h = Fresh();
        Assert.False(h.Driver.Negotiate(VirtioSpec.Bit(VirtioSpec.VIRTIO_F_VERSION_1) | (1UL << 40)));
    }

    [Fact]
    public void Initialize_LinuxSequence_ActivatesDevice()
    {
        DeviceHarness h = new(new VirtioRng());
        Assert.True(h.Transport.IsActivated);
        Assert.Equal(VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK | VirtioSpec.DRIVER_OK, h.Driver.Status);
        Assert.Equal(16, h.Transport.Queues[0].Size);
    }

    [Fact]
    public void StatusZero_ResetsEverything()
    {
        DeviceHarness h = new(new VirtioRng());
        h.Driver.WriteRegister(VirtioMmio.Status, 0);
        Assert.False(h.Transport.IsActivated);
        Assert.Equal(0u, h.Driver.Status);
        h.Driver.WriteRegister(VirtioMmio.QueueSel, 0);
        Assert.Equal(0u, h.Driver.ReadRegister(VirtioMmio.QueueReady));
    }

    [Fact]
    public void StatusSkippingSteps_IsIgnored()
    {
        DeviceHarness h = Fresh();
        h.Driver.WriteRegister(VirtioMmio.Status, VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK | VirtioSpec.DRIVER_OK);
        Assert.Equal(0u, h.Driver.Status);
        Assert.False(h.Transport.IsActivated);
    }

    [Fact]
    public void Notify_BeforeDriverOk_IsIgnored()
    {
        DeviceHarness h = Fresh();
        h.Q.Push(Kindling.Testing.DriverBuffer.DeviceWrites(h.Q.Alloc(8), 8));
        h.Driver.Notify(0);
        Assert.Equal(0, h.Q.UsedIdx);
        Assert.Equal(0, h.Interrupt.Count);
    }

    [Fact]
    public void QueueSizeNotPowerOfTwo_SetsNeedsResetOnDriverOk()
    {
        DeviceHarness h = Fresh();
        h.Driver.Probe();
        Assert.True(h.Driver.Negotiate(VirtioSpec.Bit(VirtioSpec.VIRTIO_F_VERSION_1)));
        h.Driver.SetupQueue(0, 12, h.Q.Desc, h.Q.Avail, h.Q.Used);
        h.Driver.DriverOk();
        Assert.NotEqual(0u, h.Driver.Status & VirtioSpec.DEVICE_NEEDS_RESET);
        Assert.Equal(VirtioInterrupt.VIRTIO_MMIO_INT_CONFIG, h.Driver.AcknowledgeInterrupt());
        Assert.Equal(0u, h.Driver.ReadRegister(VirtioMmio.InterruptStatus));
    }

    [Fact]
    public void UsedBuffer_RaisesVringInterruptAndAckClearsIt()
    {
        DeviceHarness h = new(new VirtioRng());
        h.Q.Push(Kindling.Testing.DriverBuffer.DeviceWrites(h.Q.Alloc(8), 8));
        h.Driver.Notify(0);
        Assert.Equal(1, h.Interrupt.Count);
        Assert.Equal(VirtioInterrupt.VIRTIO_MMIO_INT_VRING, h.Driver.AcknowledgeInterrupt());
        Assert.Equal(0u, h.Driver.ReadRegister(VirtioMmio.InterruptStatus));
    }

    [Fact]
    public void NotifyRegistrations_OnePerQueueAtQueueNotify()
    {
        DeviceHarness h = Fresh();
        QueueNotifyRegistration r = Assert.Single(h.Transport.NotifyRegistrations(0xd000_0000));
        Assert.Equal(new QueueNotifyRegistration(0, 0xd000_0050, 0, 4), r);
    }

    [Fact]
    public void QueueRegisters_AfterDriverOk_AreIgnored()
    {
        DeviceHarness h = new(new VirtioRng());
        h.Driver.WriteRegister(VirtioMmio.QueueSel, 0);
        h.Driver.WriteRegister(VirtioMmio.QueueNum, 4);
        Assert.Equal(16, h.Transport.Queues[0].Size);
    }
}
