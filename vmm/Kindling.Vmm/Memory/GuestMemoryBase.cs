using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kindling.Vmm.Memory;

/// <summary>
/// The checked accessors of <see cref="IGuestMemory"/> built on one primitive: locating a range inside a region.
/// Subclasses supply the regions and the host memory behind them.
/// </summary>
public abstract class GuestMemoryBase : IGuestMemory
{
    public abstract IReadOnlyList<GuestRegion> Regions { get; }

    /// <summary>The host memory backing region <paramref name="regionIndex"/>, from its start for <paramref name="length"/> bytes.</summary>
    protected abstract Span<byte> RegionSpan(int regionIndex, ulong offset, int length);

    public bool IsValidRange(GuestAddress address, ulong length) => FindRegion(address, length) >= 0;

    public Span<byte> GetSpan(GuestAddress address, int length)
    {
        if (length < 0)
        {
            throw new GuestMemoryException($"negative length {length} at guest address {address}");
        }

        int index = FindRegion(address, (ulong)length);
        if (index < 0)
        {
            throw new GuestMemoryException(
                $"guest range [{address}, +0x{(ulong)length:x}) is outside guest RAM");
        }

        return RegionSpan(index, address.Value - Regions[index].Start.Value, length);
    }

    public T Read<T>(GuestAddress address) where T : unmanaged =>
        MemoryMarshal.Read<T>(GetSpan(address, Unsafe.SizeOf<T>()));

    public void Write<T>(GuestAddress address, T value) where T : unmanaged =>
        MemoryMarshal.Write(GetSpan(address, Unsafe.SizeOf<T>()), in value);

    public void Read(GuestAddress address, Span<byte> destination) =>
        GetSpan(address, destination.Length).CopyTo(destination);

    public void Write(GuestAddress address, ReadOnlySpan<byte> source) =>
        source.CopyTo(GetSpan(address, source.Length));

    private int FindRegion(GuestAddress address, ulong length)
    {
        IReadOnlyList<GuestRegion> regions = Regions;
        for (int i = 0; i < regions.Count; i++)
        {
            if (regions[i].Contains(address, length))
            {
                return i;
            }
        }

        return -1;
    }
}
