using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Kindling.Vmm.Boot;

/// <summary>struct boot_e820_entry (bootparam.h), packed: 20 bytes.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct BootE820Entry
{
    public ulong Addr;
    public ulong Size;
    public uint Type;
}

/// <summary>boot_params.e820_table: E820_MAX_ENTRIES_ZEROPAGE entries.</summary>
[InlineArray(BootParams.E820MaxEntriesZeropage)]
public struct BootE820Table
{
    private BootE820Entry _first;
}
