namespace Kindling.Vmm.Emulation;

/// <summary>Architectural limits the decoder and the fallback respect.</summary>
public static class EmulationLimits
{
    /// <summary>The longest x86 instruction.</summary>
    public const int MaxInstructionBytes = 15;

    /// <summary>MXCSR bits a guest may set (FZ, RC, the masks, DAZ, the flags) with DAZ supported: 0xFFFF.</summary>
    public const uint MxcsrWritableMask = 0xFFFF;

    /// <summary>RFLAGS.AC (alignment check / SMAP override).</summary>
    public const ulong RflagsAc = 1UL << 18;

    /// <summary>RFLAGS.RF (resume flag): cleared when an instruction completes.</summary>
    public const ulong RflagsRf = 1UL << 16;

    /// <summary>Exception vectors the fallback injects.</summary>
    public const byte VectorBreakpoint = 3, VectorGeneralProtection = 13;
}
