using System.Buffers.Binary;

namespace Kindling.Images.Kernel;

/// <summary>One ELF64 program header of type PT_LOAD.</summary>
public sealed record ElfLoadSegment(ulong FileOffset, ulong VirtualAddress, ulong PhysicalAddress, ulong FileSize, ulong MemorySize);

/// <summary>
/// The parts of an ELF64 executable header and its PT_LOAD program headers that a VMM's loader uses, read with
/// bounds checks (elf.h names).
/// </summary>
public sealed record ElfImage(ushort Machine, ulong Entry, IReadOnlyList<ElfLoadSegment> Loads)
{
    public const uint ElfMagic = 0x464C457F; // "\x7fELF"
    public const byte ElfClass64 = 2;
    public const byte ElfData2Lsb = 1;
    public const ushort EtExec = 2;
    public const ushort EmX86_64 = 62;
    public const uint PtLoad = 1;
    private const int EIdentClass = 4;
    private const int EIdentData = 5;
    private const int EType = 16;
    private const int EMachine = 18;
    private const int EEntry = 24;
    private const int EPhoff = 32;
    private const int EPhentsize = 54;
    private const int EPhnum = 56;
    private const int Elf64HeaderSize = 64;
    private const int Elf64PhdrSize = 56;

    public static ElfImage Parse(ReadOnlySpan<byte> file)
    {
        if (file.Length < Elf64HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(file) != ElfMagic)
        {
            throw new InvalidDataException("not an ELF file");
        }

        if (file[EIdentClass] != ElfClass64 || file[EIdentData] != ElfData2Lsb)
        {
            throw new InvalidDataException("not a little-endian ELF64 file");
        }

        ushort type = BinaryPrimitives.ReadUInt16LittleEndian(file[EType..]);
        ushort machine = BinaryPrimitives.ReadUInt16LittleEndian(file[EMachine..]);
        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(file[EEntry..]);
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(file[EPhoff..]);
        ushort phentsize = BinaryPrimitives.ReadUInt16LittleEndian(file[EPhentsize..]);
        ushort phnum = BinaryPrimitives.ReadUInt16LittleEndian(file[EPhnum..]);
        if (type != EtExec)
        {
            throw new InvalidDataException($"ELF e_type {type} is not ET_EXEC");
        }

        if (phentsize != Elf64PhdrSize || phnum == 0 || phoff > (ulong)file.Length
            || (ulong)phnum * Elf64PhdrSize > (ulong)file.Length - phoff)
        {
            throw new InvalidDataException($"ELF program headers (offset {phoff}, {phnum} × {phentsize}) are malformed");
        }

        List<ElfLoadSegment> loads = [];
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = file.Slice((int)phoff + (i * Elf64PhdrSize), Elf64PhdrSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != PtLoad)
            {
                continue;
            }

            ElfLoadSegment s = new(
                FileOffset: BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]),
                VirtualAddress: BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]),
                PhysicalAddress: BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]),
                FileSize: BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]),
                MemorySize: BinaryPrimitives.ReadUInt64LittleEndian(ph[40..]));
            if (s.FileOffset > (ulong)file.Length || s.FileSize > (ulong)file.Length - s.FileOffset || s.FileSize > s.MemorySize)
            {
                throw new InvalidDataException($"PT_LOAD {loads.Count} (offset {s.FileOffset}, size {s.FileSize}) lies outside the file");
            }

            loads.Add(s);
        }

        return new ElfImage(machine, entry, loads);
    }

    /// <summary>
    /// Checks that this is an x86-64 kernel that fits the bzImage it came from: the entry is the preferred load
    /// address (startup_64's physical address), and every PT_LOAD lies within [pref_address, pref_address +
    /// init_size).
    /// </summary>
    public void ValidateAgainst(BzImageHeader header)
    {
        if (Machine != EmX86_64)
        {
            throw new InvalidDataException($"vmlinux e_machine {Machine} is not EM_X86_64 ({EmX86_64})");
        }

        if (Loads.Count == 0)
        {
            throw new InvalidDataException("vmlinux has no PT_LOAD segments");
        }

        ulong start = header.PrefAddress;
        ulong end = header.PrefAddress + header.InitSize;
        foreach (ElfLoadSegment s in Loads)
        {
            if (s.PhysicalAddress < start || s.PhysicalAddress + s.MemorySize > end)
            {
                throw new InvalidDataException(
                    $"vmlinux PT_LOAD at 0x{s.PhysicalAddress:x} (+0x{s.MemorySize:x}) lies outside the bzImage's " +
                    $"[pref_address 0x{start:x}, +init_size 0x{header.InitSize:x})");
            }
        }

        if (Entry != Loads.Min(l => l.PhysicalAddress) || Entry != header.PrefAddress)
        {
            throw new InvalidDataException(
                $"vmlinux entry 0x{Entry:x} is not the first PT_LOAD / bzImage pref_address 0x{header.PrefAddress:x}");
        }
    }
}
