using System.Runtime.InteropServices;

namespace Kindling.Vmm.Boot;

/// <summary>
/// struct boot_params, the "zero page" (arch/x86/include/uapi/asm/bootparam.h), packed, 4096 bytes. Only the
/// fields a VMM fills are typed; the BIOS-era blocks are opaque byte ranges of the header's sizes.
/// </summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
// SAFETY: unsafe only for the fixed-size arrays of the boot protocol's layout; the size and offsets are checked in tests, and the struct reaches guest memory only through IGuestMemory's checked accessors.
public unsafe struct BootParams
{
    /// <summary>E820_MAX_ENTRIES_ZEROPAGE.</summary>
    public const int E820MaxEntriesZeropage = 128;

    public fixed byte ScreenInfo[0x40];        // 0x000 struct screen_info
    public fixed byte ApmBiosInfo[0x14];       // 0x040 struct apm_bios_info
    public fixed byte Pad2[4];                 // 0x054
    public ulong TbootAddr;                    // 0x058
    public fixed byte IstInfo[0x10];           // 0x060 struct ist_info
    public ulong AcpiRsdpAddr;                 // 0x070
    public fixed byte Pad3[8];                 // 0x078
    public fixed byte Hd0Info[16];             // 0x080
    public fixed byte Hd1Info[16];             // 0x090
    public fixed byte SysDescTable[16];        // 0x0a0 struct sys_desc_table
    public fixed byte OlpcOfwHeader[16];       // 0x0b0 struct olpc_ofw_header
    public uint ExtRamdiskImage;               // 0x0c0
    public uint ExtRamdiskSize;                // 0x0c4
    public uint ExtCmdLinePtr;                 // 0x0c8
    public fixed byte Pad4[112];               // 0x0cc
    public uint CcBlobAddress;                 // 0x13c
    public fixed byte EdidInfo[128];           // 0x140 struct edid_info
    public fixed byte EfiInfo[32];             // 0x1c0 struct efi_info
    public uint AltMemK;                       // 0x1e0
    public uint Scratch;                       // 0x1e4
    public byte E820Entries;                   // 0x1e8
    public byte EddbufEntries;                 // 0x1e9
    public byte EddMbrSigBufEntries;           // 0x1ea
    public byte KbdStatus;                     // 0x1eb
    public byte SecureBoot;                    // 0x1ec
    public fixed byte Pad5[2];                 // 0x1ed
    public byte Sentinel;                      // 0x1ef
    public fixed byte Pad6[1];                 // 0x1f0
    public SetupHeader Hdr;                    // 0x1f1
    public fixed byte Pad7[0x290 - 0x1f1 - 0x7b]; // 0x26c
    public fixed uint EddMbrSigBuffer[16];     // 0x290 EDD_MBR_SIG_MAX
    public BootE820Table E820Table;            // 0x2d0
    public fixed byte Pad8[48];                // 0xcd0
    public fixed byte Eddbuf[6 * 82];          // 0xd00 EDDMAXNR * sizeof(struct edd_info)
    public fixed byte Pad9[276];               // 0xeec
}
