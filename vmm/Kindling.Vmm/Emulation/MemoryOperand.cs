using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Emulation;

/// <summary>The segment a memory operand names with a prefix; only FS and GS have a base in 64-bit mode.</summary>
public enum SegmentOverride
{
    None,
    Fs,
    Gs,
}

/// <summary>
/// A ModRM/SIB memory operand: [base + index·scale + displacement], or RIP-relative. Register numbers are the
/// x86 encodings with REX extensions (0 = RAX … 15 = R15); -1 means absent.
/// </summary>
public sealed record MemoryOperand(
    int BaseRegister,
    int IndexRegister,
    int Scale,
    long Displacement,
    bool RipRelative,
    bool AddressSize32,
    SegmentOverride Segment)
{
    public const int NoRegister = -1;

    /// <summary>The linear address for an instruction at <paramref name="regs"/>.Rip of <paramref name="length"/> bytes.</summary>
    public ulong EffectiveAddress(in KvmRegs regs, int length, ulong fsBase, ulong gsBase)
    {
        ulong address = RipRelative ? regs.Rip + (ulong)length : 0;
        if (BaseRegister != NoRegister)
        {
            address += Register(regs, BaseRegister);
        }

        if (IndexRegister != NoRegister)
        {
            address += Register(regs, IndexRegister) * (ulong)Scale;
        }

        address += (ulong)Displacement;
        if (AddressSize32)
        {
            address &= uint.MaxValue;
        }

        return address + Segment switch
        {
            SegmentOverride.Fs => fsBase,
            SegmentOverride.Gs => gsBase,
            _ => 0,
        };
    }

    /// <summary>General-purpose register <paramref name="number"/> (x86 encoding order) of <paramref name="regs"/>.</summary>
    public static ulong Register(in KvmRegs regs, int number) => number switch
    {
        0 => regs.Rax,
        1 => regs.Rcx,
        2 => regs.Rdx,
        3 => regs.Rbx,
        4 => regs.Rsp,
        5 => regs.Rbp,
        6 => regs.Rsi,
        7 => regs.Rdi,
        8 => regs.R8,
        9 => regs.R9,
        10 => regs.R10,
        11 => regs.R11,
        12 => regs.R12,
        13 => regs.R13,
        14 => regs.R14,
        15 => regs.R15,
        _ => throw new ArgumentOutOfRangeException(nameof(number), number, "x86 has 16 general-purpose registers"),
    };
}
