namespace Kindling.Vmm.Memory;

/// <summary>One contiguous range of guest-physical RAM.</summary>
public readonly record struct GuestRegion(GuestAddress Start, ulong Size)
{
    /// <summary>First address past the region.</summary>
    public ulong End => Start.Value + Size;

    public bool Contains(GuestAddress address, ulong length) =>
        address.Value >= Start.Value && length <= Size && address.Value - Start.Value <= Size - length;
}
