using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>
/// Guest memory with regions but no backing, for layout code that only reads <see cref="IGuestMemory.Regions"/>
/// (FakeGuestMemory backs each region with one managed array, which caps a region below 2 GiB).
/// </summary>
internal sealed class RegionsOnlyMemory(params GuestRegion[] regions) : GuestMemoryBase
{
    public override IReadOnlyList<GuestRegion> Regions { get; } = regions;

    protected override Span<byte> RegionSpan(int regionIndex, ulong offset, int length) =>
        throw new InvalidOperationException("this test memory has no backing; the code under test must not touch RAM");
}
