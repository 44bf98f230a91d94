namespace Kindling.Vmm.Boot;

/// <summary>E820 address range types (arch/x86/include/asm/e820/types.h).</summary>
public enum E820Type : uint
{
    /// <summary>E820_TYPE_RAM: usable RAM.</summary>
    Ram = 1,

    /// <summary>E820_TYPE_RESERVED.</summary>
    Reserved = 2,
}
