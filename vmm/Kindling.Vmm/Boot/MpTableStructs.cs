using System.Runtime.InteropServices;

namespace Kindling.Vmm.Boot;

// Intel MultiProcessor Specification 1.4 structures (arch/x86/include/asm/mpspec_def.h).

/// <summary>struct mpf_intel: the MP floating pointer, 16 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
internal unsafe struct MpfIntel
{
    public fixed byte Signature[4];
    public uint PhysPtr;
    public byte Length;
    public byte Specification;
    public byte Checksum;
    public byte Feature1;
    public byte Feature2;
    public byte Feature3;
    public byte Feature4;
    public byte Feature5;
}

/// <summary>struct mpc_table: the configuration table header, 44 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
internal unsafe struct MpcTable
{
    public fixed byte Signature[4];
    public ushort Length;
    public byte Spec;
    public byte Checksum;
    public fixed byte Oem[8];
    public fixed byte ProductId[12];
    public uint OemPtr;
    public ushort OemSize;

    /// <summary>The spec's "entry count": entries in the base table after this header (Linux: oemcount).</summary>
    public ushort OemCount;
    public uint Lapic;
    public uint Reserved;
}

/// <summary>struct mpc_cpu, 20 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
internal unsafe struct MpcCpu
{
    public byte Type;
    public byte ApicId;
    public byte ApicVer;
    public byte CpuFlag;
    public uint CpuFeature;
    public uint FeatureFlag;
    public fixed uint Reserved[2];
}

/// <summary>struct mpc_bus, 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
internal unsafe struct MpcBus
{
    public byte Type;
    public byte BusId;
    public fixed byte BusType[6];
}

/// <summary>struct mpc_ioapic, 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct MpcIoapic
{
    public byte Type;
    public byte ApicId;
    public byte ApicVer;
    public byte Flags;
    public uint ApicAddr;
}

/// <summary>struct mpc_intsrc (I/O interrupt assignment), 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct MpcIntsrc
{
    public byte Type;
    public byte IrqType;
    public ushort IrqFlag;
    public byte SrcBus;
    public byte SrcBusIrq;
    public byte DstApic;
    public byte DstIrq;
}

/// <summary>struct mpc_lintsrc (local interrupt assignment), 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
internal struct MpcLintsrc
{
    public byte Type;
    public byte IrqType;
    public ushort IrqFlag;
    public byte SrcBusId;
    public byte SrcBusIrq;
    public byte DestApic;
    public byte DestApicLint;
}
