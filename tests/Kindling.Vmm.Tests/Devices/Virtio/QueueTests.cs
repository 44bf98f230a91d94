using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio;

public sealed class QueueTests
{
    private readonly FakeGuestMemory _memory = new(new GuestRegion(GuestAddress.Zero, 0x100000), new GuestRegion(new GuestAddress(0x200000), 0x10000));
    private readonly VirtQueueBuilder _driver;
    private readonly Queue _queue = new(16);

    public QueueTests()
    {
        _driver = new VirtQueueBuilder(_memory, new GuestAddress(0x1000), 16, new GuestAddress(0x10000), 0x10000);
        _queue.Size = 16;
        _queue.DescTable = _driver.Desc;
        _queue.AvailRing = _driver.Avail;
        _queue.UsedRing = _driver.Used;
        _queue.Ready = true;
        _queue.IndirectDesc = true;
    }

    [Fact]
    public void Pop_DirectChain_ReturnsBuffersInOrder()
    {
        GuestAddress a = _driver.Alloc(16), b = _driver.Alloc(100);
        ushort head = _driver.Push(DriverBuffer.DeviceReads(a, 16), DriverBuffer.DeviceWrites(b, 100));
        Assert.Equal(PopResult.Chain, _queue.Pop(_memory, out DescriptorChain chain, out _));
        Assert.Equal(head, chain.Head);
        Assert.Equal(2, chain.Count);
        Assert.Equal(new Descriptor(a, 16, false), chain[0]);
        Assert.Equal(new Descriptor(b, 100, true), chain[1]);
        Assert.Equal(PopResult.Empty, _queue.Pop(_memory, out _, out _));
    }

    [Fact]
    public void Pop_IndirectChain_Flattens()
    {
        GuestAddress a = _driver.Alloc(16), b = _driver.Alloc(512), c = _driver.Alloc(1);
        _driver.Publish(_driver.AddIndirectChain(DriverBuffer.DeviceReads(a, 16), DriverBuffer.DeviceWrites(b, 512), DriverBuffer.DeviceWrites(c, 1)));
        Assert.Equal(PopResult.Chain, _queue.Pop(_memory, out DescriptorChain chain, out _));
        Assert.Equal(3, chain.Count);
        Assert.Equal(513UL, chain.WritableLength);
    }

    [Fact]
    public void Pop_IndirectWithoutFeature_IsBadChain()
    {
        _queue.IndirectDesc = false;
        _driver.Publish(_driver.AddIndirectChain(DriverBuffer.DeviceReads(_driver.Alloc(16), 16)));
        Assert.Equal(PopResult.BadChain, _queue.Pop(_memory, out _, out _));
    }

    [Fact]
    public void Pop_Loop_IsBadChainNotHang()
    {
        _driver.WriteDescriptor(0, 0x10000, 8, VirtqDesc.VIRTQ_DESC_F_NEXT, 1);
        _driver.WriteDescriptor(1, 0x10000, 8, VirtqDesc.VIRTQ_DESC_F_NEXT, 0);
        _driver.Publish(0);
        Assert.Equal(PopResult.BadChain, _queue.Pop(_memory, out _, out QueueError? error));
        Assert.Equal(QueueFault.ChainTooLong, error!.Fault);
        Assert.Contains("loop", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0x100000UL, 16U)]             // in the hole
    [InlineData(0x20fff0UL, 0x20U)]           // straddles the end of RAM
    [InlineData(0xfffffffffffffff0UL, 0x20U)] // wraps
    public void Pop_BufferOutsideRam_IsBadChain(ulong address, uint length)
    {
        _driver.WriteDescriptor(0, address, length, 0, 0);
        _driver.Publish(0);
        Assert.Equal(PopResult.BadChain, _queue.Pop(_memory, out _, out _));
    }

    [Fact]
    public void Pop_AvailIndexJumpsPastSize_IsBroken()
    {
        _driver.SetAvailIdx(17);
        Assert.Equal(PopResult.Broken, _queue.Pop(_memory, out _, out _));
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)12)]
    [InlineData((ushort)32)]
    public void Validate_SizeNotPowerOfTwoOrTooBig_IsRejected(ushort size)
    {
        _queue.Size = size;
        Assert.Equal(QueueFault.BadSize, _queue.Validate(_memory)?.Fault);
    }

    [Fact]
    public void Validate_RingsInHole_IsRejected()
    {
        _queue.UsedRing = new GuestAddress(0x100000);
        Assert.Equal(QueueFault.RingOutsideMemory, _queue.Validate(_memory)?.Fault);
    }

    [Fact]
    public void AddUsed_UsedRingOutsideMemory_ThrowsQueueBroken()
    {
        ushort head = _driver.Push(DriverBuffer.DeviceWrites(_driver.Alloc(8), 8));
        Assert.Equal(PopResult.Chain, _queue.Pop(_memory, out _, out _));
        _queue.UsedRing = new GuestAddress(0x100000); // the hole between the two regions

        QueueBrokenException e = Assert.Throws<QueueBrokenException>(() => _queue.AddUsed(_memory, head, 8));
        Assert.Equal(QueueFault.RingAccess, e.Error.Fault);
    }

    [Fact]
    public void AddUsed_WritesElementAndIndex()
    {
        ushort head = _driver.Push(DriverBuffer.DeviceWrites(_driver.Alloc(8), 8));
        _queue.Pop(_memory, out _, out _);
        _queue.AddUsed(_memory, head, 8);
        Assert.Equal(1, _driver.UsedIdx);
        Assert.Equal(new UsedElement(head, 8), _driver.ReadUsed(0));
    }

    [Fact]
    public void NeedsNotification_NoInterruptFlag_Suppresses()
    {
        _driver.SetNoInterrupt(true);
        Assert.False(_queue.NeedsNotification(_memory));
        _driver.SetNoInterrupt(false);
        Assert.True(_queue.NeedsNotification(_memory));
    }

    [Fact]
    public void NeedsNotification_EventIdx_FiresOnlyWhenUsedEventPassed()
    {
        _queue.EventIdx = true;
        for (int i = 0; i < 4; i++)
        {
            _driver.Push(DriverBuffer.DeviceWrites(_driver.Alloc(8), 8));
        }

        _driver.SetUsedEvent(2); // interrupt me when used idx goes past 2
        Assert.Equal(PopResult.Chain, _queue.Pop(_memory, out DescriptorChain c, out _));
        _queue.AddUsed(_memory, c.Head, 0);
        Assert.True(_queue.NeedsNotification(_memory)); // first signal always
        _queue.Pop(_memory, out c, out _);
        _queue.AddUsed(_memory, c.Head, 0);
        Assert.False(_queue.NeedsNotification(_memory)); // used idx 2: event 2 not passed
        _queue.Pop(_memory, out c, out _);
        _queue.AddUsed(_memory, c.Head, 0);
        Assert.True(_queue.NeedsNotification(_memory));  // used idx 3 passes 2

        // avail_event is left alone while chains remain, and re-armed at the next entry when the ring is found empty.
        Assert.Equal(0, _driver.AvailEvent);
        Assert.Equal(PopResult.Chain, _queue.Pop(_memory, out _, out _));
        Assert.Equal(PopResult.Empty, _queue.Pop(_memory, out _, out _));
        Assert.Equal(4, _driver.AvailEvent);
    }

    [Theory]
    [InlineData((ushort)5, (ushort)6, (ushort)5, true)]
    [InlineData((ushort)5, (ushort)5, (ushort)4, false)]
    [InlineData((ushort)65535, (ushort)1, (ushort)65534, true)]
    public void VringNeedEvent_MatchesSpec(ushort eventIdx, ushort newIdx, ushort oldIdx, bool expected) =>
        Assert.Equal(expected, Queue.VringNeedEvent(eventIdx, newIdx, oldIdx));
}
