namespace Kindling.Vmm.Memory;

/// <summary>A guest-physical address. Arithmetic is checked: a wrap is a guest error, never a silent overflow.</summary>
public readonly record struct GuestAddress(ulong Value) : IComparable<GuestAddress>
{
    public static GuestAddress Zero => default;

    /// <summary>Returns this address plus <paramref name="offset"/>, or throws <see cref="GuestMemoryException"/> on wrap.</summary>
    public GuestAddress Add(ulong offset)
    {
        ulong sum = Value + offset;
        if (sum < Value)
        {
            throw new GuestMemoryException($"guest address 0x{Value:x} + 0x{offset:x} wraps around");
        }

        return new GuestAddress(sum);
    }

    /// <summary>Like <see cref="Add"/> but reports a wrap instead of throwing (for hot paths that validate first).</summary>
    public bool TryAdd(ulong offset, out GuestAddress result)
    {
        ulong sum = Value + offset;
        result = new GuestAddress(sum);
        return sum >= Value;
    }

    public int CompareTo(GuestAddress other) => Value.CompareTo(other.Value);

    public static bool operator <(GuestAddress left, GuestAddress right) => left.Value < right.Value;
    public static bool operator >(GuestAddress left, GuestAddress right) => left.Value > right.Value;
    public static bool operator <=(GuestAddress left, GuestAddress right) => left.Value <= right.Value;
    public static bool operator >=(GuestAddress left, GuestAddress right) => left.Value >= right.Value;

    public override string ToString() => $"0x{Value:x}";
}
