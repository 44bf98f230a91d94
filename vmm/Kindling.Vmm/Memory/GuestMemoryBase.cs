using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kindling.Vmm.Memory;

/// <summary>
/// The checked accessors of <see cref="IGuestMemory"/> built on one primitive: locating a range inside a region.
/// Subclasses supply the regions (fixed for the object's lifetime) and the host memory behind them.
/// </summary>
public abstract class GuestMemoryBase : IGuestMemory
{
    /// <summary>
    /// <see cref="Regions"/> as an array, taken on first use: every guest access looks its range up, and walking an
    /// array through IReadOnlyList costs an interface call per step on the devices' hot path.
    /// </summary>
    private GuestRegion[]? _lookup;

    public abstract IReadOnlyList<GuestRegion> Regions { get; }

    /// <summary>The host memory backing region <paramref name="regionIndex"/>, from its start for <paramref name="length"/> bytes.</summary>
    protected abstract Span<byte> RegionSpan(int regionIndex, ulong offset, int length);

    public bool IsValidRange(GuestAddress address, ulong length) => FindRegion(address, length) >= 0;

    public Span<byte> GetSpan(GuestAddress address, int length)
    {
        // The hot path of every device: no allocation, formatting or collection code in this body (the cold paths
        // are out of line), so it stays small enough to be cheap several times per descriptor. A negative length
        // becomes huge as a ulong: never contained.
        int i = FindRegion(address, (ulong)length);
        if (i >= 0)
        {
            return RegionSpan(i, address.Value - _lookup![i].Start.Value, length);
        }

        throw OutsideRam(address, length);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private GuestRegion[] CacheRegions() => _lookup = [.. Regions];

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GuestMemoryException OutsideRam(GuestAddress address, int length) => length < 0
        ? new GuestMemoryException($"negative length {length} at guest address {address}")
        : new GuestMemoryException($"guest range [{address}, +0x{(ulong)length:x}) is outside guest RAM");

    public void Read(GuestAddress address, Span<byte> destination) =>
        GetSpan(address, destination.Length).CopyTo(destination);

    public void Write(GuestAddress address, ReadOnlySpan<byte> source) =>
        source.CopyTo(GetSpan(address, source.Length));

    public ushort ReadAcquire(GuestAddress address) =>
        Volatile.Read(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(GetSpan(address, sizeof(ushort)))));

    public void WriteRelease(GuestAddress address, ushort value) =>
        Volatile.Write(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(GetSpan(address, sizeof(ushort)))), value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] // GetSpan's hot path
    private int FindRegion(GuestAddress address, ulong length)
    {
        GuestRegion[] regions = _lookup ?? CacheRegions();
        for (int i = 0; i < regions.Length; i++)
        {
            if (regions[i].Contains(address, length))
            {
                return i;
            }
        }

        return -1;
    }
}
