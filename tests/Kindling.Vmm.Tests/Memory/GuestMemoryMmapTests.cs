using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Memory;

public sealed class GuestMemoryMmapTests
{
    private const ulong Mib = 1024 * 1024;

    [Fact]
    public void RamRegions_BelowTheGap_IsOneRegionAtZero()
    {
        IReadOnlyList<GuestRegion> regions = X86MemoryLayout.RamRegions(128 * Mib);

        Assert.Equal([new GuestRegion(GuestAddress.Zero, 128 * Mib)], regions);
    }

    [Fact]
    public void RamRegions_ExactlyUpToTheGap_IsOneRegion()
    {
        IReadOnlyList<GuestRegion> regions = X86MemoryLayout.RamRegions(X86MemoryLayout.MmioGapStart);

        Assert.Single(regions);
        Assert.Equal(X86MemoryLayout.MmioGapStart, regions[0].End);
    }

    [Fact]
    public void RamRegions_LargerThanTheGapStart_SplitsAroundTheGap()
    {
        IReadOnlyList<GuestRegion> regions = X86MemoryLayout.RamRegions(4096 * Mib);

        Assert.Equal(2, regions.Count);
        Assert.Equal(new GuestRegion(GuestAddress.Zero, 0xD000_0000), regions[0]);
        Assert.Equal(new GuestRegion(new GuestAddress(0x1_0000_0000), (4096 * Mib) - 0xD000_0000), regions[1]);
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(4097UL)]
    public void RamRegions_SizeNotAPositivePageMultiple_Throws(ulong size)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => X86MemoryLayout.RamRegions(size));
    }

    [Fact]
    public void Create_SmallMemory_ReadsBackWhatWasWrittenAndStartsZeroed()
    {
        using GuestMemoryMmap memory = GuestMemoryMmap.Create(2 * Mib);

        Assert.Equal(0UL, memory.Read<ulong>(new GuestAddress(0x1000)));
        memory.Write(new GuestAddress((2 * Mib) - 8), 0x0123456789abcdefUL);

        Assert.Equal(0x0123456789abcdefUL, memory.Read<ulong>(new GuestAddress((2 * Mib) - 8)));
        Assert.Equal(2 * Mib, memory.TotalSize);
    }

    [Fact]
    // SAFETY: pointer tests over memory the test allocates and keeps alive for the whole test (stack locals, pinned arrays, the mapping under test).
    public unsafe void HostRegions_PointAtTheSameBytesTheAccessorsUse()
    {
        using GuestMemoryMmap memory = GuestMemoryMmap.Create(Mib);
        memory.Write(new GuestAddress(0x123), (byte)0x7e);

        HostMappedRegion host = Assert.Single(memory.HostRegions);

        Assert.Equal(GuestAddress.Zero, host.GuestAddress);
        Assert.Equal(Mib, host.Size);
        Assert.Equal(0x7e, *((byte*)host.HostAddress + 0x123));
    }

    [Fact]
    public void Create_MemoryAboveTheGap_MapsTwoRegionsAndTheGapIsNotRam()
    {
        // MAP_NORESERVE: 3.25 GiB + 1 MiB of address space costs only the pages touched here.
        using GuestMemoryMmap memory = GuestMemoryMmap.Create(X86MemoryLayout.MmioGapStart + Mib);
        var above = new GuestAddress(X86MemoryLayout.MmioGapEnd + Mib - 4);

        memory.Write(above, 0xfeedfaceU);

        Assert.Equal(0xfeedfaceU, memory.Read<uint>(above));
        Assert.Equal(2, memory.HostRegions.Count);
        Assert.False(memory.IsValidRange(new GuestAddress(X86MemoryLayout.MmioGapStart), 1));
        Assert.False(memory.IsValidRange(new GuestAddress(X86MemoryLayout.MmioGapEnd - 1), 1));
        Assert.Throws<GuestMemoryException>(() => memory.Read<byte>(new GuestAddress(X86MemoryLayout.MmioGapEnd + Mib)));
    }

    [Fact]
    public void Create_OverlappingRegions_Throws()
    {
        Assert.Throws<ArgumentException>(() => GuestMemoryMmap.Create(
            [new GuestRegion(GuestAddress.Zero, 0x2000), new GuestRegion(new GuestAddress(0x1000), 0x1000)]));
    }

    [Fact]
    public void Create_UnalignedRegion_Throws()
    {
        Assert.Throws<ArgumentException>(() => GuestMemoryMmap.Create([new GuestRegion(new GuestAddress(0x10), 0x1000)]));
    }

    [Fact]
    public void Dispose_ThenAccess_ThrowsObjectDisposed()
    {
        GuestMemoryMmap memory = GuestMemoryMmap.Create(Mib);
        memory.Dispose();

        Assert.Throws<ObjectDisposedException>(() => memory.Read<byte>(GuestAddress.Zero));
        Assert.Throws<ObjectDisposedException>(() => memory.HostRegions);
        memory.Dispose(); // idempotent
    }
}
