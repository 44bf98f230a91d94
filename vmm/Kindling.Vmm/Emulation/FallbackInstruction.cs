namespace Kindling.Vmm.Emulation;

/// <summary>The instructions the VMM completes when the host's KVM emulator gives up on them (issue 11).</summary>
public enum FallbackKind
{
    /// <summary>INT3 (CC): advance RIP, inject #BP (a trap: the frame holds the next RIP, as hardware pushes).</summary>
    Int3,

    /// <summary>FWAIT/WAIT (9B): no unmasked x87 exception can be pending for a guest kernel here; a no-op.</summary>
    Fwait,

    /// <summary>CLAC (0F 01 CA): clear RFLAGS.AC.</summary>
    Clac,

    /// <summary>STAC (0F 01 CB): set RFLAGS.AC.</summary>
    Stac,

    /// <summary>LDMXCSR m32 (0F AE /2): MXCSR from memory (#GP(0) on reserved bits).</summary>
    Ldmxcsr,

    /// <summary>STMXCSR m32 (0F AE /3): MXCSR to memory.</summary>
    Stmxcsr,

    /// <summary>LFENCE (0F AE E8): a no-op here; the exit to the VMM already serialises the vCPU.</summary>
    Lfence,

    /// <summary>MFENCE (0F AE F0): as <see cref="Lfence"/>.</summary>
    Mfence,

    /// <summary>SFENCE (0F AE F8): as <see cref="Lfence"/>.</summary>
    Sfence,
}

/// <summary>One decoded instruction: its kind, its length in bytes, and its memory operand if it has one.</summary>
public sealed record FallbackInstruction(FallbackKind Kind, int Length, MemoryOperand? Memory = null)
{
    /// <summary>The mnemonic, as the metrics and errors spell it.</summary>
    public string Mnemonic => Kind.ToString().ToLowerInvariant();
}
