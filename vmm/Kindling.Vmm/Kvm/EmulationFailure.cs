namespace Kindling.Vmm.Kvm;

/// <summary>
/// Reads the instruction bytes out of a KVM_INTERNAL_ERROR_EMULATION exit. With
/// KVM_CAP_EXIT_ON_EMULATION_FAILURE enabled the kernel sets KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES
/// in data[0] and puts <c>insn_size</c> and up to 15 <c>insn_bytes</c> in the 16 bytes of data[1..2].
/// </summary>
public static class EmulationFailure
{
    /// <summary>KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES.</summary>
    public const ulong FlagInstructionBytes = 1;

    /// <summary>The longest x86 instruction.</summary>
    public const int MaxInstructionBytes = 15;

    /// <summary>The failing instruction's bytes, or null when the exit does not carry them.</summary>
    public static byte[]? InstructionBytes(VcpuExit exit)
    {
        if (exit.Kind != VcpuExitKind.InternalError || exit.Code != KvmExitReason.InternalErrorEmulation
            || exit.Data.Count < 3 || (exit.Data[0] & FlagInstructionBytes) == 0)
        {
            return null;
        }

        Span<byte> raw = stackalloc byte[16];
        BitConverter.TryWriteBytes(raw, exit.Data[1]);
        BitConverter.TryWriteBytes(raw[8..], exit.Data[2]);
        int size = Math.Min((int)raw[0], MaxInstructionBytes);
        return raw.Slice(1, size).ToArray();
    }
}
