using Kindling.Testing;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Devices.Virtio.Rng;

public sealed class VirtioRngTests
{
    [Fact]
    public void Request_FillsWritableBuffersWithEntropy()
    {
        var h = new DeviceHarness(new VirtioRng());
        GuestAddress a = h.Q.Alloc(64), b = h.Q.Alloc(64);
        ushort head = h.Q.Push(DriverBuffer.DeviceWrites(a, 64), DriverBuffer.DeviceWrites(b, 64));
        h.Driver.Notify(0);
        Assert.Equal(new UsedElement(head, 128), Assert.Single(h.Q.TakeAllUsed()));
        Assert.True(h.Memory.GetSpan(a, 64).ToArray().Distinct().Count() > 16);
        Assert.True(h.Memory.GetSpan(b, 64).ToArray().Distinct().Count() > 16);
    }

    [Fact]
    public void Request_WithReadableBuffer_CompletesEmpty()
    {
        var h = new DeviceHarness(new VirtioRng());
        GuestAddress a = h.Q.Alloc(64);
        ushort head = h.Q.Push(DriverBuffer.DeviceReads(a, 64));
        h.Driver.Notify(0);
        Assert.Equal(new UsedElement(head, 0), Assert.Single(h.Q.TakeAllUsed()));
        Assert.All(h.Memory.GetSpan(a, 64).ToArray(), x => Assert.Equal(0, x));
    }

    [Fact]
    public void RateLimiter_Bytes_DefersUntilRefill()
    {
        var time = new FakeTimeProvider();
        var limiter = new Kindling.Vmm.RateLimiting.RateLimiter(new Kindling.Vmm.RateLimiting.TokenBucket(100, 0, 1000, time), null, time);
        var h = new DeviceHarness(new VirtioRng(limiter));
        h.Q.Push(DriverBuffer.DeviceWrites(h.Q.Alloc(100), 100));
        h.Q.Push(DriverBuffer.DeviceWrites(h.Q.Alloc(100), 100));
        h.Driver.Notify(0);
        Assert.Single(h.Q.TakeAllUsed());
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.Empty(h.Q.TakeAllUsed());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Single(h.Q.TakeAllUsed());
    }
}
