using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>Where the VMM puts things in guest-physical memory (Firecracker's arch/x86_64 layout).</summary>
public static class BootLayout
{
    /// <summary>boot_params (the zero page); RSI points here at entry.</summary>
    public const ulong ZeroPageStart = 0x7000;

    /// <summary>Initial RSP/RBP.</summary>
    public const ulong BootStackPointer = 0x8ff0;

    /// <summary>PML4 of the identity page tables; the PDPT and PD follow at +0x1000 and +0x2000.</summary>
    public const ulong Pml4Start = 0x9000;

    /// <summary>The kernel command line (NUL-terminated).</summary>
    public const ulong CmdlineStart = 0x20000;

    /// <summary>Bytes set aside for the command line including its NUL; the kernel reads at most KernelCommandLine.Size of them.</summary>
    public const ulong CmdlineMaxSize = 4096;

    /// <summary>1 MiB: kernels load at or above it; everything of ours lies below it.</summary>
    public const ulong HimemStart = 0x100000;

    /// <summary>Start of the 32-bit MMIO gap (no RAM from here to 4 GiB).</summary>
    public const ulong MmioGapStart = 0xD000_0000;

    /// <summary>End of the 32-bit MMIO gap: RAM resumes at 4 GiB.</summary>
    public const ulong MmioGapEnd = 0x1_0000_0000;

    /// <summary>KVM_SET_TSS_ADDR (three pages, inside the MMIO gap).</summary>
    public const ulong TssAddress = 0xfffb_d000;

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR (one page, just below the TSS).</summary>
    public const ulong IdentityMapAddress = 0xfffb_c000;

    /// <summary>Firecracker's EBDA_START: low RAM in the e820 map ends here; the MP table sits above it.</summary>
    public const ulong EbdaStart = 0x9fc00;

    /// <summary>The boot GDT (4 entries).</summary>
    public const ulong GdtStart = 0x500;

    /// <summary>The boot IDT (one empty entry: any exception before the kernel's own IDT triple-faults).</summary>
    public const ulong IdtStart = 0x520;

    /// <summary>The PDPT, one page after the PML4.</summary>
    public const ulong PdpteStart = 0xa000;

    /// <summary>The page directory of 2 MiB pages, one page after the PDPT.</summary>
    public const ulong PdeStart = 0xb000;

    /// <summary>Where the MP floating pointer structure goes.</summary>
    public const ulong MpTableStart = EbdaStart;

    /// <summary>
    /// The e820 map for <paramref name="memory"/>: [0, EBDA) as RAM, then every region's part at or above
    /// <see cref="HimemStart"/> as RAM, with the MMIO gap [<see cref="MmioGapStart"/>, <see cref="MmioGapEnd"/>) cut out.
    /// </summary>
    public static IReadOnlyList<E820Entry> BuildE820(IGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        IReadOnlyList<GuestRegion> regions = memory.Regions;
        if (regions.Count == 0 || regions[0].Start.Value != 0 || regions[0].End < HimemStart)
        {
            throw new BootException(
                $"guest memory must start at 0 and reach at least 0x{HimemStart:x} (1 MiB); got {Describe(regions)}");
        }

        var entries = new List<E820Entry> { new(0, EbdaStart, E820Type.Ram) };
        foreach (GuestRegion region in regions)
        {
            ulong start = Math.Max(region.Start.Value, HimemStart);
            ulong end = region.End;
            AddRam(entries, start, Math.Min(end, MmioGapStart));
            AddRam(entries, Math.Max(start, MmioGapEnd), end);
        }

        return entries;
    }

    private static void AddRam(List<E820Entry> entries, ulong start, ulong end)
    {
        if (end <= start)
        {
            return;
        }

        E820Entry last = entries[^1];
        if (last.Type == E820Type.Ram && last.End == start)
        {
            entries[^1] = last with { Size = end - last.Address };
            return;
        }

        entries.Add(new E820Entry(start, end - start, E820Type.Ram));
    }

    private static string Describe(IReadOnlyList<GuestRegion> regions) =>
        regions.Count == 0 ? "no regions" : string.Join(", ", regions.Select(r => $"[{r.Start}, 0x{r.End:x})"));
}
