using Kindling.Testing;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Memory;

public sealed class GuestMemoryBaseTests
{
    private readonly FakeGuestMemory _memory = new(
        new GuestRegion(new GuestAddress(0), 0x1000),
        new GuestRegion(new GuestAddress(0x2000), 0x1000));

    [Fact]
    public void WriteRead_InsideRegion_RoundTrips()
    {
        _memory.Write(new GuestAddress(0x2ff8), 0x1122334455667788UL);
        Assert.Equal(0x1122334455667788UL, _memory.Read<ulong>(new GuestAddress(0x2ff8)));
    }

    [Theory]
    [InlineData(0xffcUL, 8UL)]      // straddles the end of region 0
    [InlineData(0x1000UL, 1UL)]     // the hole
    [InlineData(0x2ffcUL, 8UL)]     // past the end of RAM
    [InlineData(ulong.MaxValue, 2UL)] // wraps
    public void IsValidRange_OutsideOneRegion_IsFalse(ulong address, ulong length)
    {
        Assert.False(_memory.IsValidRange(new GuestAddress(address), length));
    }

    [Fact]
    public void Read_Straddling_Throws()
    {
        Assert.Throws<GuestMemoryException>(() => _memory.Read<ulong>(new GuestAddress(0xffc)));
    }

    [Fact]
    public void WriteReleaseReadAcquire_InsideRegion_RoundTripAndSeePlainAccesses()
    {
        _memory.WriteRelease(new GuestAddress(0x2ffe), 0xbeef);
        Assert.Equal(0xbeef, _memory.Read<ushort>(new GuestAddress(0x2ffe)));
        _memory.Write(new GuestAddress(0x10), (ushort)0x1234);
        Assert.Equal(0x1234, _memory.ReadAcquire(new GuestAddress(0x10)));
    }

    [Theory]
    [InlineData(0xfffUL)]  // straddles the end of region 0
    [InlineData(0x1000UL)] // the hole
    [InlineData(0x2fffUL)] // past the end of RAM
    public void WriteReleaseReadAcquire_OutsideOneRegion_Throw(ulong address)
    {
        Assert.Throws<GuestMemoryException>(() => _memory.WriteRelease(new GuestAddress(address), 1));
        Assert.Throws<GuestMemoryException>(() => _memory.ReadAcquire(new GuestAddress(address)));
    }

    [Fact]
    public void Add_Wrapping_Throws()
    {
        Assert.Throws<GuestMemoryException>(() => new GuestAddress(ulong.MaxValue).Add(1));
    }
}
