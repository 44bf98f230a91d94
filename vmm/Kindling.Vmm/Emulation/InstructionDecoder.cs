namespace Kindling.Vmm.Emulation;

/// <summary>
/// Decodes the few instructions <see cref="InstructionFallback"/> completes, from the bytes of a
/// KVM_INTERNAL_ERROR_EMULATION exit, in 64-bit mode. Legacy prefixes (operand/address size, segment, LOCK,
/// REP) and one REX prefix are taken; anything else — another opcode, a register operand where memory is
/// required, bytes that end early — decodes to null, and the VM stops with the bytes in its error.
/// </summary>
public static class InstructionDecoder
{
    private const byte OpInt3 = 0xCC;
    private const byte OpFwait = 0x9B;
    private const byte OpTwoByteEscape = 0x0F;
    private const byte OpGroup7 = 0x01;
    private const byte ModRmClac = 0xCA;
    private const byte ModRmStac = 0xCB;
    private const byte OpGroup15 = 0xAE;
    private const int Group15Ldmxcsr = 2, Group15Stmxcsr = 3, Group15Lfence = 5, Group15Mfence = 6, Group15Sfence = 7;

    private const byte PrefixOperandSize = 0x66, PrefixAddressSize = 0x67, PrefixLock = 0xF0, PrefixRepne = 0xF2,
        PrefixRep = 0xF3, PrefixCs = 0x2E, PrefixSs = 0x36, PrefixDs = 0x3E, PrefixEs = 0x26, PrefixFs = 0x64,
        PrefixGs = 0x65;
    private const byte RexFirst = 0x40, RexLast = 0x4F, RexB = 0x1, RexX = 0x2;

    private const int ModRegisterDirect = 3, RmSib = 4, RmDisp32 = 5, SibNoIndex = 4, SibNoBase = 5;

    /// <summary>The instruction at the start of <paramref name="bytes"/>, or null when it is not one we complete.</summary>
    public static FallbackInstruction? Decode(ReadOnlySpan<byte> bytes) =>
        DecodeAny(bytes) is { Length: <= EmulationLimits.MaxInstructionBytes } insn ? insn : null;

    private static FallbackInstruction? DecodeAny(ReadOnlySpan<byte> bytes)
    {
        int i = 0;
        bool addressSize32 = false, lockPrefix = false, repPrefix = false;
        SegmentOverride segment = SegmentOverride.None;
        byte rex = 0;
        for (; i < bytes.Length && i < EmulationLimits.MaxInstructionBytes; i++)
        {
            byte b = bytes[i];
            if (b is PrefixOperandSize or PrefixCs or PrefixSs or PrefixDs or PrefixEs)
            {
                continue;
            }

            if (b == PrefixAddressSize)
            {
                addressSize32 = true;
            }
            else if (b == PrefixFs)
            {
                segment = SegmentOverride.Fs;
            }
            else if (b == PrefixGs)
            {
                segment = SegmentOverride.Gs;
            }
            else if (b == PrefixLock)
            {
                lockPrefix = true;
            }
            else if (b is PrefixRep or PrefixRepne)
            {
                repPrefix = true;
            }
            else
            {
                break;
            }
        }

        if (i < bytes.Length && bytes[i] is >= RexFirst and <= RexLast)
        {
            rex = bytes[i++];
        }

        if (i >= bytes.Length || lockPrefix)
        {
            return null;
        }

        byte op = bytes[i++];
        if (op == OpInt3 && !repPrefix)
        {
            return new(FallbackKind.Int3, i);
        }

        if (op == OpFwait && !repPrefix)
        {
            return new(FallbackKind.Fwait, i);
        }

        if (op != OpTwoByteEscape || i >= bytes.Length)
        {
            return null;
        }

        byte op2 = bytes[i++];
        if (op2 == OpGroup7 && i < bytes.Length && !repPrefix)
        {
            return bytes[i] switch
            {
                ModRmClac => new(FallbackKind.Clac, i + 1),
                ModRmStac => new(FallbackKind.Stac, i + 1),
                _ => null,
            };
        }

        if (op2 != OpGroup15 || i >= bytes.Length || repPrefix)
        {
            return null;
        }

        byte modrm = bytes[i];
        int mod = modrm >> 6, reg = (modrm >> 3) & 7;
        if (mod == ModRegisterDirect)
        {
            FallbackKind? fence = reg switch
            {
                Group15Lfence => FallbackKind.Lfence,
                Group15Mfence => FallbackKind.Mfence,
                Group15Sfence => FallbackKind.Sfence,
                _ => null,
            };
            return fence is { } f && (modrm & 7) == 0 ? new(f, i + 1) : null;
        }

        FallbackKind? kind = reg switch
        {
            Group15Ldmxcsr => FallbackKind.Ldmxcsr,
            Group15Stmxcsr => FallbackKind.Stmxcsr,
            _ => null,
        };
        if (kind is null)
        {
            return null;
        }

        return DecodeMemoryOperand(bytes, i, rex, addressSize32, segment) is ({ } operand, int end)
            ? new(kind.Value, end, operand)
            : null;
    }

    /// <summary>Decodes the ModRM byte at <paramref name="at"/> (mod ≠ 3) with its SIB and displacement.</summary>
    private static (MemoryOperand Operand, int End)? DecodeMemoryOperand(
        ReadOnlySpan<byte> bytes, int at, byte rex, bool addressSize32, SegmentOverride segment)
    {
        byte modrm = bytes[at++];
        int mod = modrm >> 6, rm = modrm & 7;
        int baseRegister, indexRegister = MemoryOperand.NoRegister, scale = 1;
        bool ripRelative = false;
        int displacementBytes = mod switch { 1 => 1, 2 => 4, _ => 0 };

        if (rm == RmSib)
        {
            if (at >= bytes.Length)
            {
                return null;
            }

            byte sib = bytes[at++];
            scale = 1 << (sib >> 6);
            int index = ((sib >> 3) & 7) | ((rex & RexX) != 0 ? 8 : 0);
            indexRegister = index == SibNoIndex ? MemoryOperand.NoRegister : index;
            int sibBase = sib & 7;
            if (sibBase == SibNoBase && mod == 0)
            {
                baseRegister = MemoryOperand.NoRegister;
                displacementBytes = 4;
            }
            else
            {
                baseRegister = sibBase | ((rex & RexB) != 0 ? 8 : 0);
            }
        }
        else if (rm == RmDisp32 && mod == 0)
        {
            baseRegister = MemoryOperand.NoRegister;
            ripRelative = true;
            displacementBytes = 4;
        }
        else
        {
            baseRegister = rm | ((rex & RexB) != 0 ? 8 : 0);
        }

        if (at + displacementBytes > bytes.Length)
        {
            return null;
        }

        long displacement = displacementBytes switch
        {
            1 => (sbyte)bytes[at],
            4 => BitConverter.ToInt32(bytes.Slice(at, 4)),
            _ => 0,
        };
        return (new MemoryOperand(baseRegister, indexRegister, scale, displacement, ripRelative, addressSize32, segment),
            at + displacementBytes);
    }
}
