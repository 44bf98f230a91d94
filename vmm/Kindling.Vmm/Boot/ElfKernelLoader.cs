using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// Loads an ELF64 x86_64 vmlinux: every PT_LOAD segment is copied to its p_paddr and its bss zeroed; the entry
/// point is e_entry, translated through the containing segment when it is a virtual address. A PVH entry note is
/// recorded when present.
/// </summary>
internal static class ElfKernelLoader
{
    /// <summary>Notes larger than this are not parsed (the PVH note is a few bytes; this bounds hostile files).</summary>
    private const ulong MaxNoteSegment = 1 << 20;

    public static LoadedKernel Load(IGuestMemory memory, ImageFile file)
    {
        Elf64Ehdr ehdr = file.ReadStruct<Elf64Ehdr>(0, "the ELF header");
        CheckHeader(file, ehdr);
        Elf64Phdr[] phdrs = ReadProgramHeaders(file, ehdr);

        // Check every segment before copying any, so a rejected kernel leaves guest memory untouched.
        var loads = new List<Elf64Phdr>();
        for (int i = 0; i < phdrs.Length; i++)
        {
            if (phdrs[i].PType == Elf64.PtLoad)
            {
                CheckSegment(memory, file, i, phdrs[i]);
                loads.Add(phdrs[i]);
            }
        }

        if (loads.Count == 0)
        {
            throw file.Corrupt("the ELF file has no PT_LOAD segment, so there is nothing to load");
        }

        GuestAddress entry = TranslateEntry(file, ehdr.EEntry, phdrs);
        ulong loadStart = ulong.MaxValue;
        ulong loadEnd = 0;
        foreach (Elf64Phdr ph in loads)
        {
            var destination = new GuestAddress(ph.PPaddr);
            file.CopyToGuest(memory, (long)ph.POffset, destination, ph.PFilesz, $"PT_LOAD segment at 0x{ph.PPaddr:x}");
            ImageFile.ZeroGuest(memory, destination.Add(ph.PFilesz), ph.PMemsz - ph.PFilesz);
            loadStart = Math.Min(loadStart, ph.PPaddr);
            loadEnd = Math.Max(loadEnd, ph.PPaddr + ph.PMemsz);
        }

        return new LoadedKernel(KernelFormat.Elf, entry, new GuestAddress(loadStart), new GuestAddress(loadEnd))
        {
            PvhEntryPoint = FindPvhEntry(file, phdrs),
            Path = file.Path,
        };
    }

    private static unsafe void CheckHeader(ImageFile file, Elf64Ehdr ehdr)
    {
        // SAFETY: e_ident is a fixed 16-byte buffer inside the local copy; EIClass and EIData are constant indices below 16.
        byte elfClass = ehdr.EIdent[Elf64.EIClass];
        if (elfClass != Elf64.ElfClass64)
        {
            throw file.Corrupt(
                $"it is a {(elfClass == 1 ? "32-bit (ELFCLASS32)" : $"class-{elfClass}")} ELF file; only 64-bit x86_64 kernels (ELFCLASS64) boot");
        }

        if (ehdr.EIdent[Elf64.EIData] != Elf64.ElfData2Lsb)
        {
            throw file.Corrupt("the ELF file is not little-endian (ELFDATA2LSB); it is not an x86_64 kernel");
        }

        if (ehdr.EMachine != Elf64.EmX8664)
        {
            throw file.Corrupt($"the ELF file is built for machine {ehdr.EMachine}, not x86_64 (EM_X86_64 = {Elf64.EmX8664})");
        }

        if (ehdr.EType is not (Elf64.EtExec or Elf64.EtDyn))
        {
            throw file.Corrupt($"the ELF file has type {ehdr.EType}, not an executable (ET_EXEC/ET_DYN)");
        }

        if (ehdr.EPhnum == 0)
        {
            throw file.Corrupt("the ELF file has no program headers");
        }

        if (ehdr.EPhentsize != Unsafe.SizeOf<Elf64Phdr>())
        {
            throw file.Corrupt($"e_phentsize is {ehdr.EPhentsize}, expected {Unsafe.SizeOf<Elf64Phdr>()} for ELF64");
        }
    }

    private static Elf64Phdr[] ReadProgramHeaders(ImageFile file, Elf64Ehdr ehdr)
    {
        var phdrs = new Elf64Phdr[ehdr.EPhnum];
        for (int i = 0; i < phdrs.Length; i++)
        {
            ulong offset = ehdr.EPhoff + ((ulong)i * ehdr.EPhentsize);
            if (ehdr.EPhoff > (ulong)file.Length || offset > (ulong)file.Length)
            {
                throw file.Truncated($"program header {i}", (long)Math.Min(offset, long.MaxValue), ehdr.EPhentsize);
            }

            phdrs[i] = file.ReadStruct<Elf64Phdr>((long)offset, $"program header {i}");
        }

        return phdrs;
    }

    private static void CheckSegment(IGuestMemory memory, ImageFile file, int index, Elf64Phdr ph)
    {
        if (ph.PFilesz > ph.PMemsz)
        {
            throw file.Corrupt($"PT_LOAD segment {index} has p_filesz 0x{ph.PFilesz:x} larger than p_memsz 0x{ph.PMemsz:x}");
        }

        if (ph.POffset > (ulong)file.Length || ph.PFilesz > (ulong)file.Length - ph.POffset)
        {
            throw file.Truncated($"PT_LOAD segment {index}", (long)Math.Min(ph.POffset, long.MaxValue), ph.PFilesz);
        }

        if (ph.PPaddr < BootLayout.HimemStart)
        {
            throw file.Corrupt(
                $"PT_LOAD segment {index} loads at p_paddr 0x{ph.PPaddr:x}, below 1 MiB (0x{BootLayout.HimemStart:x}) " +
                "where the VMM keeps boot_params, page tables and the command line");
        }

        ulong end = ph.PPaddr + ph.PMemsz;
        if (end < ph.PPaddr || !memory.IsValidRange(new GuestAddress(ph.PPaddr), ph.PMemsz))
        {
            throw new BootException(
                $"kernel {file.Path} does not fit in guest memory: PT_LOAD segment {index} needs " +
                $"[0x{ph.PPaddr:x}, 0x{end:x}) but guest RAM is {GuestMemoryText.Describe(memory)}; " +
                "raise machine-config mem_size_mib");
        }
    }

    private static GuestAddress TranslateEntry(ImageFile file, ulong entry, Elf64Phdr[] phdrs)
    {
        foreach (Elf64Phdr ph in phdrs)
        {
            if (ph.PType == Elf64.PtLoad && entry >= ph.PPaddr && entry - ph.PPaddr < ph.PMemsz)
            {
                return new GuestAddress(entry);
            }
        }

        foreach (Elf64Phdr ph in phdrs)
        {
            if (ph.PType == Elf64.PtLoad && entry >= ph.PVaddr && entry - ph.PVaddr < ph.PMemsz)
            {
                return new GuestAddress(ph.PPaddr + (entry - ph.PVaddr));
            }
        }

        throw file.Corrupt($"the entry point e_entry 0x{entry:x} lies in no PT_LOAD segment");
    }

    private static GuestAddress? FindPvhEntry(ImageFile file, Elf64Phdr[] phdrs)
    {
        foreach (Elf64Phdr ph in phdrs)
        {
            if (ph.PType != Elf64.PtNote || ph.PFilesz == 0 || ph.PFilesz > MaxNoteSegment ||
                ph.POffset > (ulong)file.Length || ph.PFilesz > (ulong)file.Length - ph.POffset)
            {
                continue;
            }

            byte[] notes = new byte[ph.PFilesz];
            file.ReadExactly((long)ph.POffset, notes, "PT_NOTE segment");
            if (FindPvhEntry(notes) is { } entry)
            {
                return new GuestAddress(entry);
            }
        }

        return null;
    }

    /// <summary>Walks the notes of one PT_NOTE segment for XEN_ELFNOTE_PHYS32_ENTRY named "Xen".</summary>
    internal static ulong? FindPvhEntry(ReadOnlySpan<byte> notes)
    {
        int headerSize = Unsafe.SizeOf<Elf64Nhdr>();
        int offset = 0;
        while (notes.Length - offset >= headerSize)
        {
            uint nameSize = BinaryPrimitives.ReadUInt32LittleEndian(notes[offset..]);
            uint descSize = BinaryPrimitives.ReadUInt32LittleEndian(notes[(offset + 4)..]);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(notes[(offset + 8)..]);
            long nameStart = offset + headerSize;
            long descStart = nameStart + Align4(nameSize);
            long next = descStart + Align4(descSize);
            if (next > notes.Length)
            {
                return null;
            }

            ReadOnlySpan<byte> name = notes.Slice((int)nameStart, (int)nameSize);
            if (type == Elf64.XenElfnotePhys32Entry && name.SequenceEqual(Elf64.XenNoteName))
            {
                ReadOnlySpan<byte> desc = notes.Slice((int)descStart, (int)descSize);
                return descSize switch
                {
                    4 => BinaryPrimitives.ReadUInt32LittleEndian(desc),
                    8 => BinaryPrimitives.ReadUInt64LittleEndian(desc),
                    _ => null,
                };
            }

            offset = (int)next;
        }

        return null;
    }

    private static long Align4(uint value) => ((long)value + 3) & ~3L;
}
