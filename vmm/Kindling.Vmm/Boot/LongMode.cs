using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// What the VMM writes so the vCPU can start directly in 64-bit mode (no real mode, no firmware): a GDT with
/// Firecracker's four entries, an empty IDT, and identity page tables mapping the first 1 GiB with 2 MiB pages.
/// </summary>
public static class LongMode
{
    /// <summary>CR0.PE: protected mode.</summary>
    public const ulong Cr0Pe = 1UL << 0;

    /// <summary>CR0.ET: extension type, hard-wired to 1 on every x86_64 CPU (KVM's reset value has it).</summary>
    public const ulong Cr0Et = 1UL << 4;

    /// <summary>CR0.PG: paging.</summary>
    public const ulong Cr0Pg = 1UL << 31;

    /// <summary>CR4.PAE: physical address extension, required for long mode.</summary>
    public const ulong Cr4Pae = 1UL << 5;

    /// <summary>EFER.LME: long mode enable.</summary>
    public const ulong EferLme = 1UL << 8;

    /// <summary>EFER.LMA: long mode active.</summary>
    public const ulong EferLma = 1UL << 10;

    /// <summary>Page table entry bits: present, writable, page size (2 MiB in a PDE).</summary>
    public const ulong PagePresent = 1UL << 0;
    public const ulong PageWritable = 1UL << 1;
    public const ulong PageSize2M = 1UL << 7;

    /// <summary>GDT indices (selector = index × 8).</summary>
    public const int GdtNull = 0, GdtCode = 1, GdtData = 2, GdtTss = 3;

    /// <summary>Access/flags words as Firecracker's gdt_entry() takes them: 64-bit code (L), 32-bit-style data (D/B, G), busy TSS.</summary>
    public const ushort CodeFlags = 0xa09b, DataFlags = 0xc093, TssFlags = 0x808b;

    /// <summary>Number of 2 MiB pages mapped: 512, the first 1 GiB.</summary>
    public const int IdentityMappedPages = 512;

    private const ulong LargePageShift = 21;

    public static LongModeState Setup(IGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ulong[] gdt =
        [
            GdtEntry(0, 0, 0),
            GdtEntry(CodeFlags, 0, 0xfffff),
            GdtEntry(DataFlags, 0, 0xfffff),
            GdtEntry(TssFlags, 0, 0xfffff),
        ];
        for (int i = 0; i < gdt.Length; i++)
        {
            memory.Write(new GuestAddress(BootLayout.GdtStart + (ulong)(i * sizeof(ulong))), gdt[i]);
        }

        memory.Write(new GuestAddress(BootLayout.IdtStart), 0UL);
        WritePageTables(memory);

        return new LongModeState(
            Cr0: Cr0Pe | Cr0Et | Cr0Pg,
            Cr3: BootLayout.Pml4Start,
            Cr4: Cr4Pae,
            Efer: EferLme | EferLma,
            Code: SegmentFromGdt(gdt[GdtCode], GdtCode),
            Data: SegmentFromGdt(gdt[GdtData], GdtData),
            Tss: SegmentFromGdt(gdt[GdtTss], GdtTss),
            GdtBase: BootLayout.GdtStart,
            GdtLimit: (ushort)((gdt.Length * sizeof(ulong)) - 1),
            IdtBase: BootLayout.IdtStart,
            IdtLimit: sizeof(ulong) - 1);
    }

    /// <summary>
    /// Encodes a segment descriptor from Firecracker's (flags, base, limit) form: flags bits 0–7 are the access
    /// byte, bits 12–15 the G/DB/L/AVL nibble.
    /// </summary>
    public static ulong GdtEntry(ushort flags, uint baseAddress, uint limit) =>
        (((ulong)baseAddress & 0xff00_0000) << (56 - 24)) |
        (((ulong)flags & 0x0000_f0ff) << 40) |
        (((ulong)limit & 0x000f_0000) << (48 - 16)) |
        (((ulong)baseAddress & 0x00ff_ffff) << 16) |
        ((ulong)limit & 0x0000_ffff);

    /// <summary>Decodes a GDT entry into the register state KVM takes (kvm_segment), as Firecracker's kvm_segment_from_gdt.</summary>
    public static SegmentState SegmentFromGdt(ulong entry, int index)
    {
        bool granularity = ((entry >> 55) & 1) != 0;
        uint limit = (uint)(((entry >> 32) & 0x000f_0000) | (entry & 0x0000_ffff));
        if (granularity)
        {
            limit = (limit << 12) | 0xfff;
        }

        ulong baseAddress = ((entry >> 16) & 0x00ff_ffff) | ((entry >> 32) & 0xff00_0000);
        return new SegmentState(
            Base: baseAddress,
            Limit: limit,
            Selector: (ushort)(index * 8),
            Type: (byte)((entry >> 40) & 0xf),
            Present: ((entry >> 47) & 1) != 0,
            Dpl: (byte)((entry >> 45) & 3),
            DefaultSize: ((entry >> 54) & 1) != 0,
            Segment: ((entry >> 44) & 1) != 0,
            Long: ((entry >> 53) & 1) != 0,
            Granularity: granularity);
    }

    private static void WritePageTables(IGuestMemory memory)
    {
        // PML4[0] covers [0, 512 GiB) through the PDPT; PDPT[0] covers [0, 1 GiB) through the PD.
        memory.Write(new GuestAddress(BootLayout.Pml4Start), BootLayout.PdpteStart | PagePresent | PageWritable);
        memory.Write(new GuestAddress(BootLayout.PdpteStart), BootLayout.PdeStart | PagePresent | PageWritable);
        for (ulong i = 0; i < IdentityMappedPages; i++)
        {
            memory.Write(
                new GuestAddress(BootLayout.PdeStart + (i * sizeof(ulong))),
                (i << (int)LargePageShift) | PagePresent | PageWritable | PageSize2M);
        }
    }
}
