using System.Runtime.InteropServices;

namespace Kindling.Vmm.Boot;

/// <summary>
/// struct setup_header (arch/x86/include/uapi/asm/bootparam.h), packed; it lives at offset 0x1f1 of both a bzImage
/// and boot_params. Field comments give the offset inside boot_params. See Documentation/arch/x86/boot.rst.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct SetupHeader
{
    /// <summary>Offset of the setup header in a bzImage and in boot_params.</summary>
    public const int Offset = 0x1f1;

    /// <summary>"HdrS", little-endian.</summary>
    public const uint HeaderMagic = 0x5372_6448;

    /// <summary>boot_flag: 0xAA55.</summary>
    public const ushort BootFlagMagic = 0xaa55;

    /// <summary>setup_sects of 0 means 4 (boot.rst).</summary>
    public const byte DefaultSetupSects = 4;

    /// <summary>Sector size the real-mode part is counted in.</summary>
    public const int SectorSize = 512;

    /// <summary>type_of_loader 0xff: undefined boot loader (boot.rst: "If your boot loader does not have an assigned ID").</summary>
    public const byte TypeOfLoaderUndefined = 0xff;

    /// <summary>loadflags LOADED_HIGH: the protected-mode code is loaded at 0x100000.</summary>
    public const byte LoadedHigh = 1 << 0;

    /// <summary>loadflags CAN_USE_HEAP: heap_end_ptr is valid.</summary>
    public const byte CanUseHeap = 1 << 7;

    /// <summary>xloadflags XLF_KERNEL_64: the kernel has the legacy 64-bit entry point at 0x200.</summary>
    public const ushort XlfKernel64 = 1 << 0;

    /// <summary>xloadflags XLF_CAN_BE_LOADED_ABOVE_4G.</summary>
    public const ushort XlfCanBeLoadedAbove4G = 1 << 1;

    public byte SetupSects;          // 0x1f1
    public ushort RootFlags;         // 0x1f2
    public uint Syssize;             // 0x1f4
    public ushort RamSize;           // 0x1f8
    public ushort VidMode;           // 0x1fa
    public ushort RootDev;           // 0x1fc
    public ushort BootFlag;          // 0x1fe
    public ushort Jump;              // 0x200
    public uint Header;              // 0x202
    public ushort Version;           // 0x206
    public uint RealmodeSwtch;       // 0x208
    public ushort StartSysSeg;       // 0x20c
    public ushort KernelVersion;     // 0x20e
    public byte TypeOfLoader;        // 0x210
    public byte LoadFlags;           // 0x211
    public ushort SetupMoveSize;     // 0x212
    public uint Code32Start;         // 0x214
    public uint RamdiskImage;        // 0x218
    public uint RamdiskSize;         // 0x21c
    public uint BootsectKludge;      // 0x220
    public ushort HeapEndPtr;        // 0x224
    public byte ExtLoaderVer;        // 0x226
    public byte ExtLoaderType;       // 0x227
    public uint CmdLinePtr;          // 0x228
    public uint InitrdAddrMax;       // 0x22c
    public uint KernelAlignment;     // 0x230
    public byte RelocatableKernel;   // 0x234
    public byte MinAlignment;        // 0x235
    public ushort XLoadFlags;        // 0x236
    public uint CmdlineSize;         // 0x238
    public uint HardwareSubarch;     // 0x23c
    public ulong HardwareSubarchData; // 0x240
    public uint PayloadOffset;       // 0x248
    public uint PayloadLength;       // 0x24c
    public ulong SetupData;          // 0x250
    public ulong PrefAddress;        // 0x258
    public uint InitSize;            // 0x260
    public uint HandoverOffset;      // 0x264
    public uint KernelInfoOffset;    // 0x268

    /// <summary>Size of the real-mode setup code in bytes, i.e. where the protected-mode part starts in the file.</summary>
    public readonly int SetupSize => ((SetupSects == 0 ? DefaultSetupSects : SetupSects) + 1) * SectorSize;

    /// <summary>The boot protocol version as "major.minor" (version 0x020f is "2.15").</summary>
    public readonly string VersionText => $"{Version >> 8}.{Version & 0xff:D2}";
}
