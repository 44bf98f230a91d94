namespace Kindling.Vmm.Memory;

/// <summary>
/// Where guest RAM goes on x86_64, as in Firecracker: RAM from 0 up to the 32-bit MMIO gap
/// [<see cref="MmioGapStart"/>, <see cref="MmioGapEnd"/>), and whatever does not fit below it from 4 GiB up.
/// The gap holds the virtio-mmio devices, the IOAPIC/LAPIC pages and KVM's TSS/identity-map pages.
/// </summary>
public static class X86MemoryLayout
{
    public const ulong PageSize = 0x1000;

    /// <summary>Start of the MMIO gap below 4 GiB (3.25 GiB).</summary>
    public const ulong MmioGapStart = 0xD000_0000;

    /// <summary>End of the MMIO gap: 4 GiB.</summary>
    public const ulong MmioGapEnd = 0x1_0000_0000;

    /// <summary>The RAM regions for <paramref name="sizeBytes"/> of guest memory (a positive multiple of the page size).</summary>
    public static IReadOnlyList<GuestRegion> RamRegions(ulong sizeBytes)
    {
        if (sizeBytes == 0 || sizeBytes % PageSize != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(sizeBytes), sizeBytes, $"guest memory size must be a positive multiple of {PageSize} bytes");
        }

        if (sizeBytes <= MmioGapStart)
        {
            return [new GuestRegion(GuestAddress.Zero, sizeBytes)];
        }

        return
        [
            new GuestRegion(GuestAddress.Zero, MmioGapStart),
            new GuestRegion(new GuestAddress(MmioGapEnd), sizeBytes - MmioGapStart),
        ];
    }
}
