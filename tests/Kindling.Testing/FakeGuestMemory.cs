using Kindling.Vmm.Memory;

namespace Kindling.Testing;

/// <summary>
/// Guest RAM backed by managed arrays, for device tests without KVM. Regions may leave holes, so tests can aim
/// descriptors at addresses that are not RAM.
/// </summary>
public sealed class FakeGuestMemory : GuestMemoryBase
{
    private readonly GuestRegion[] _regions;
    private readonly byte[][] _backing;

    /// <summary>One region of <paramref name="size"/> bytes at guest address 0.</summary>
    public FakeGuestMemory(ulong size) : this(new GuestRegion(GuestAddress.Zero, size))
    {
    }

    public FakeGuestMemory(params GuestRegion[] regions)
    {
        _regions = [.. regions.OrderBy(r => r.Start.Value)];
        _backing = [.. _regions.Select(r => new byte[checked((int)r.Size)])];
    }

    public override IReadOnlyList<GuestRegion> Regions => _regions;

    protected override Span<byte> RegionSpan(int regionIndex, ulong offset, int length) =>
        _backing[regionIndex].AsSpan(checked((int)offset), length);
}
