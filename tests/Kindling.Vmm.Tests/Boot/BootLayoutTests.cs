using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class BootLayoutTests
{
    private const ulong MiB = 1 << 20, GiB = 1UL << 30;

    [Fact]
    public void BuildE820_128MiB_LowRamThenHighRam()
    {
        var memory = new FakeGuestMemory(128 * MiB);

        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        Assert.Equal(
            [new E820Entry(0, 0x9fc00, E820Type.Ram), new E820Entry(0x100000, (128 * MiB) - 0x100000, E820Type.Ram)],
            e820);
    }

    [Fact]
    public void BuildE820_3point5GiB_SplitAroundMmioGap()
    {
        // 3.5 GiB of RAM: 3.25 GiB below the gap, the remaining 256 MiB from 4 GiB.
        ulong below = BootLayout.MmioGapStart;
        ulong above = (3 * GiB) + (512 * MiB) - below;
        var memory = new RegionsOnlyMemory(
            new GuestRegion(GuestAddress.Zero, below), new GuestRegion(new GuestAddress(BootLayout.MmioGapEnd), above));

        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        Assert.Equal(
            [
                new E820Entry(0, 0x9fc00, E820Type.Ram),
                new E820Entry(0x100000, 0xD000_0000 - 0x100000, E820Type.Ram),
                new E820Entry(0x1_0000_0000, 256 * MiB, E820Type.Ram),
            ],
            e820);
    }

    [Fact]
    public void BuildE820_5GiB_HighPartStartsAt4GiB()
    {
        ulong below = BootLayout.MmioGapStart;
        var memory = new RegionsOnlyMemory(
            new GuestRegion(GuestAddress.Zero, below),
            new GuestRegion(new GuestAddress(BootLayout.MmioGapEnd), (5 * GiB) - below));

        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        Assert.Equal(3, e820.Count);
        Assert.Equal(new E820Entry(0x1_0000_0000, (5 * GiB) - 0xD000_0000, E820Type.Ram), e820[2]);
        Assert.Equal(5 * GiB, e820.Aggregate(0UL, (sum, e) => sum + e.Size) + (0x100000 - 0x9fc00));
        Assert.DoesNotContain(e820, e => e.Address < BootLayout.MmioGapEnd && e.End > BootLayout.MmioGapStart);
    }

    [Fact]
    public void BuildE820_RegionCrossingGap_GapCutOut()
    {
        var memory = new RegionsOnlyMemory(new GuestRegion(GuestAddress.Zero, 5 * GiB));

        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        Assert.Equal(
            [
                new E820Entry(0, 0x9fc00, E820Type.Ram),
                new E820Entry(0x100000, 0xD000_0000 - 0x100000, E820Type.Ram),
                new E820Entry(0x1_0000_0000, GiB, E820Type.Ram),
            ],
            e820);
    }

    [Fact]
    public void BuildE820_MemoryBelow1MiB_Throws()
    {
        var memory = new FakeGuestMemory(512 * 1024);

        var e = Assert.Throws<BootException>(() => BootLayout.BuildE820(memory));

        Assert.Contains("1 MiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constants_AreFirecrackersLayout()
    {
        Assert.Equal(0x7000UL, BootLayout.ZeroPageStart);
        Assert.Equal(0x20000UL, BootLayout.CmdlineStart);
        Assert.Equal(0xfffb_d000UL, BootLayout.TssAddress);
        Assert.True(BootLayout.CmdlineStart + BootLayout.CmdlineMaxSize <= BootLayout.EbdaStart);
        Assert.True(BootLayout.PdeStart + 0x1000 <= BootLayout.CmdlineStart);
    }
}
