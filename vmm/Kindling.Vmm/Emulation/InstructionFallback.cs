using System.Buffers.Binary;
using Kindling.Vmm.Kvm.Abi;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Emulation;

/// <summary>What became of one instruction handed to <see cref="InstructionFallback.TryComplete"/>.</summary>
public readonly record struct FallbackOutcome(FallbackInstruction? Instruction, string? Failure)
{
    public bool Completed => Instruction is not null && Failure is null;
}

/// <summary>
/// Completes, in the VMM, the few instructions a host's KVM emulator rejects (KVM_INTERNAL_ERROR_EMULATION),
/// so that a stock kernel can run where guest kernel code is emulated (issue 11; see ../shared/KVM-HERE.md).
/// Enabled only by the <c>emulated</c> CPU template. Each completed instruction is counted.
/// </summary>
public sealed class InstructionFallback(IGuestMemory memory)
{
    private readonly long[] _counts = new long[Enum.GetValues<FallbackKind>().Length];

    /// <summary>How many of each instruction were completed so far, by mnemonic (all kinds, zeros included).</summary>
    public IReadOnlyDictionary<string, long> Counts =>
        Enum.GetValues<FallbackKind>().ToDictionary(k => k.ToString().ToLowerInvariant(), k => Interlocked.Read(ref _counts[(int)k]));

    /// <summary>All completed instructions.</summary>
    public long Total => Counts.Values.Sum();

    /// <summary>Decodes <paramref name="bytes"/> (the instruction at RIP) and completes it on <paramref name="cpu"/>.</summary>
    public FallbackOutcome TryComplete(IFallbackCpu cpu, ReadOnlySpan<byte> bytes)
    {
        ArgumentNullException.ThrowIfNull(cpu);
        FallbackInstruction? insn = InstructionDecoder.Decode(bytes);
        if (insn is null)
        {
            return new(null, "not an instruction the VMM completes");
        }

        KvmSregs sregs = cpu.GetSregs();
        if (sregs.Cs.L == 0)
        {
            return new(insn, $"{insn.Mnemonic} outside 64-bit mode is not completed");
        }

        KvmRegs regs = cpu.GetRegs();
        string? failure = insn.Kind switch
        {
            FallbackKind.Int3 => Int3(cpu, ref regs, insn),
            FallbackKind.Fwait or FallbackKind.Lfence or FallbackKind.Mfence or FallbackKind.Sfence => Advance(cpu, ref regs, insn),
            FallbackKind.Clac => SetAc(cpu, ref regs, insn, false),
            FallbackKind.Stac => SetAc(cpu, ref regs, insn, true),
            FallbackKind.Ldmxcsr => Ldmxcsr(cpu, ref regs, sregs, insn),
            FallbackKind.Stmxcsr => Stmxcsr(cpu, ref regs, sregs, insn),
            _ => $"{insn.Mnemonic} has no handler",
        };
        if (failure is null)
        {
            Interlocked.Increment(ref _counts[(int)insn.Kind]);
        }

        return new(insn, failure);
    }

    private static string? Advance(IFallbackCpu cpu, ref KvmRegs regs, FallbackInstruction insn)
    {
        regs.Rip += (ulong)insn.Length;
        regs.Rflags &= ~EmulationLimits.RflagsRf;
        cpu.SetRegs(regs);
        return null;
    }

    private static string? Int3(IFallbackCpu cpu, ref KvmRegs regs, FallbackInstruction insn)
    {
        // #BP is a trap: the handler sees RIP after the INT3, as hardware delivers it.
        Advance(cpu, ref regs, insn);
        cpu.InjectException(EmulationLimits.VectorBreakpoint, errorCode: null);
        return null;
    }

    private static string? SetAc(IFallbackCpu cpu, ref KvmRegs regs, FallbackInstruction insn, bool set)
    {
        regs.Rflags = set ? regs.Rflags | EmulationLimits.RflagsAc : regs.Rflags & ~EmulationLimits.RflagsAc;
        return Advance(cpu, ref regs, insn);
    }

    private string? Ldmxcsr(IFallbackCpu cpu, ref KvmRegs regs, in KvmSregs sregs, FallbackInstruction insn)
    {
        Span<byte> value = stackalloc byte[sizeof(uint)];
        if (Access(cpu, regs, sregs, insn, value, write: false) is { } error)
        {
            return error;
        }

        uint mxcsr = BinaryPrimitives.ReadUInt32LittleEndian(value);
        if ((mxcsr & ~EmulationLimits.MxcsrWritableMask) != 0)
        {
            // What the CPU does with reserved bits set: #GP(0), RIP unchanged (a fault).
            cpu.InjectException(EmulationLimits.VectorGeneralProtection, errorCode: 0);
            return null;
        }

        KvmFpu fpu = cpu.GetFpu();
        fpu.Mxcsr = mxcsr;
        cpu.SetFpu(fpu);
        return Advance(cpu, ref regs, insn);
    }

    private string? Stmxcsr(IFallbackCpu cpu, ref KvmRegs regs, in KvmSregs sregs, FallbackInstruction insn)
    {
        Span<byte> value = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32LittleEndian(value, cpu.GetFpu().Mxcsr);
        return Access(cpu, regs, sregs, insn, value, write: true) ?? Advance(cpu, ref regs, insn);
    }

    /// <summary>Reads or writes <paramref name="data"/> at the instruction's memory operand, page by page.</summary>
    private string? Access(IFallbackCpu cpu, in KvmRegs regs, in KvmSregs sregs, FallbackInstruction insn, Span<byte> data, bool write)
    {
        ulong linear = insn.Memory!.EffectiveAddress(regs, insn.Length, sregs.Fs.Base, sregs.Gs.Base);
        int done = 0;
        while (done < data.Length)
        {
            ulong at = linear + (ulong)done;
            if (cpu.Translate(at) is not { } physical)
            {
                return $"{insn.Mnemonic}: its operand at 0x{at:x} is not mapped";
            }

            int chunk = (int)Math.Min((ulong)(data.Length - done), X86MemoryLayout.PageSize - (at % X86MemoryLayout.PageSize));
            try
            {
                if (write)
                {
                    memory.Write(new GuestAddress(physical), data.Slice(done, chunk));
                }
                else
                {
                    memory.Read(new GuestAddress(physical), data.Slice(done, chunk));
                }
            }
            catch (GuestMemoryException e)
            {
                return $"{insn.Mnemonic}: its operand at 0x{at:x} (physical 0x{physical:x}) is not RAM: {e.Message}";
            }

            done += chunk;
        }

        return null;
    }
}
