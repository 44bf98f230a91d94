using System.Runtime.InteropServices;

namespace Kindling.Vmm.Boot;

/// <summary>Elf64_Ehdr (include/uapi/linux/elf.h), 64 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
internal unsafe struct Elf64Ehdr
{
    public fixed byte EIdent[Elf64.EINident];
    public ushort EType;
    public ushort EMachine;
    public uint EVersion;
    public ulong EEntry;
    public ulong EPhoff;
    public ulong EShoff;
    public uint EFlags;
    public ushort EEhsize;
    public ushort EPhentsize;
    public ushort EPhnum;
    public ushort EShentsize;
    public ushort EShnum;
    public ushort EShstrndx;
}

/// <summary>Elf64_Phdr, 56 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Elf64Phdr
{
    public uint PType;
    public uint PFlags;
    public ulong POffset;
    public ulong PVaddr;
    public ulong PPaddr;
    public ulong PFilesz;
    public ulong PMemsz;
    public ulong PAlign;
}

/// <summary>Elf64_Nhdr, 12 bytes; name and descriptor follow, each padded to 4 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct Elf64Nhdr
{
    public uint NNamesz;
    public uint NDescsz;
    public uint NType;
}

/// <summary>ELF constants (include/uapi/linux/elf.h, elf-em.h) and the Xen PVH note (include/xen/interface/elfnote.h).</summary>
internal static class Elf64
{
    public const int EINident = 16;
    public const int EIClass = 4;
    public const int EIData = 5;
    public const byte ElfMag0 = 0x7f;
    public const byte ElfClass64 = 2;
    public const byte ElfData2Lsb = 1;
    public const ushort EtExec = 2;
    public const ushort EtDyn = 3;
    public const ushort EmX8664 = 62;
    public const uint PtLoad = 1;
    public const uint PtNote = 4;

    /// <summary>XEN_ELFNOTE_PHYS32_ENTRY: the 32-bit PVH entry point, in a note named "Xen".</summary>
    public const uint XenElfnotePhys32Entry = 18;

    public static ReadOnlySpan<byte> Magic => [ElfMag0, (byte)'E', (byte)'L', (byte)'F'];

    public static ReadOnlySpan<byte> XenNoteName => "Xen\0"u8;
}
