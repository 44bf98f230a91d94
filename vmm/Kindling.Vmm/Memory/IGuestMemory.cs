namespace Kindling.Vmm.Memory;

/// <summary>
/// Guest RAM as the VMM sees it. Every access is bounds-checked against the regions: an address or length that
/// leaves guest RAM (or straddles two regions) throws <see cref="GuestMemoryException"/>; nothing outside the
/// guest's RAM is ever touched. Guest memory is hostile: treat every value read from it as untrusted.
/// </summary>
public interface IGuestMemory
{
    /// <summary>The RAM regions, sorted by start address, non-overlapping.</summary>
    IReadOnlyList<GuestRegion> Regions { get; }

    /// <summary>True when [address, address + length) lies inside one region.</summary>
    bool IsValidRange(GuestAddress address, ulong length);

    /// <summary>
    /// A view of [address, address + length) inside one region. The span aliases guest RAM: the guest may change
    /// it concurrently, so read each value once and validate the copy.
    /// </summary>
    Span<byte> GetSpan(GuestAddress address, int length);

    void Read(GuestAddress address, Span<byte> destination);

    void Write(GuestAddress address, ReadOnlySpan<byte> source);

    /// <summary>
    /// A 16-bit load that later loads cannot be moved before (acquire): a ring index read before the ring entries
    /// it covers. On x86-64 (the only host) a plain load with the compiler held back; no fence instruction.
    /// </summary>
    ushort ReadAcquire(GuestAddress address);

    /// <summary>
    /// A 16-bit store that earlier stores cannot be moved after (release): a ring index written after the ring
    /// entries it publishes. On x86-64 a plain store; no fence instruction.
    /// </summary>
    void WriteRelease(GuestAddress address, ushort value);
}

/// <summary>
/// Typed guest accesses on top of <see cref="IGuestMemory.GetSpan"/>. Extension methods, not interface members: a
/// generic interface method is dispatched through a runtime lookup on every call (several per descriptor on the
/// virtqueue hot path), while these compile to one interface call and a load or store.
/// </summary>
public static class GuestMemoryExtensions
{
    public static T Read<T>(this IGuestMemory memory, GuestAddress address) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Read<T>(memory.GetSpan(address, System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));

    public static void Write<T>(this IGuestMemory memory, GuestAddress address, T value) where T : unmanaged =>
        System.Runtime.InteropServices.MemoryMarshal.Write(memory.GetSpan(address, System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), in value);
}
