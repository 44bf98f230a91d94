using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kindling.Vmm.Boot;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>Sizes and offsets of the ELF and MP-spec structures against include/uapi/linux/elf.h and asm/mpspec_def.h.</summary>
public sealed class AbiStructTests
{
    [Fact]
    public void ElfStructs_SizesMatchElfH()
    {
        Assert.Equal(64, Unsafe.SizeOf<Elf64Ehdr>());
        Assert.Equal(56, Unsafe.SizeOf<Elf64Phdr>());
        Assert.Equal(12, Unsafe.SizeOf<Elf64Nhdr>());
    }

    [Fact]
    public void Elf64Ehdr_Offsets_MatchElfH()
    {
        Assert.Equal(16, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EType)));
        Assert.Equal(18, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EMachine)));
        Assert.Equal(24, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EEntry)));
        Assert.Equal(32, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EPhoff)));
        Assert.Equal(54, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EPhentsize)));
        Assert.Equal(56, Offset<Elf64Ehdr>(nameof(Elf64Ehdr.EPhnum)));
    }

    [Fact]
    public void Elf64Phdr_Offsets_MatchElfH()
    {
        Assert.Equal(8, Offset<Elf64Phdr>(nameof(Elf64Phdr.POffset)));
        Assert.Equal(16, Offset<Elf64Phdr>(nameof(Elf64Phdr.PVaddr)));
        Assert.Equal(24, Offset<Elf64Phdr>(nameof(Elf64Phdr.PPaddr)));
        Assert.Equal(32, Offset<Elf64Phdr>(nameof(Elf64Phdr.PFilesz)));
        Assert.Equal(40, Offset<Elf64Phdr>(nameof(Elf64Phdr.PMemsz)));
    }

    [Fact]
    public void MpStructs_SizesMatchMpspecDef()
    {
        Assert.Equal(16, Unsafe.SizeOf<MpfIntel>());
        Assert.Equal(44, Unsafe.SizeOf<MpcTable>());
        Assert.Equal(20, Unsafe.SizeOf<MpcCpu>());
        Assert.Equal(8, Unsafe.SizeOf<MpcBus>());
        Assert.Equal(8, Unsafe.SizeOf<MpcIoapic>());
        Assert.Equal(8, Unsafe.SizeOf<MpcIntsrc>());
        Assert.Equal(8, Unsafe.SizeOf<MpcLintsrc>());
        Assert.Equal(10, Offset<MpfIntel>(nameof(MpfIntel.Checksum)));
        Assert.Equal(7, Offset<MpcTable>(nameof(MpcTable.Checksum)));
        Assert.Equal(36, Offset<MpcTable>(nameof(MpcTable.Lapic)));
    }

    [Fact]
    public void MpTableSize_ForFirecrackersMaximum32Vcpus_FitsInLastKiBOfBaseMemory()
    {
        Assert.True(BootLayout.MpTableStart + (ulong)MpTable.Size(32) <= 0xa0000);
    }

    private static int Offset<T>(string field) => (int)Marshal.OffsetOf<T>(field);
}
