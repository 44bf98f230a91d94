using System.Buffers.Binary;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Tests.Jail.Seccomp;

/// <summary>
/// A classic-BPF interpreter for the instructions a seccomp filter uses (ld abs word, alu rsh/and k, jeq/jge k,
/// ret k), run over a struct seccomp_data the way the kernel does, so the filter's decisions can be tested.
/// </summary>
internal static class BpfInterpreter
{
    public static uint Run(SockFilter[] program, int nr, uint arch, ulong[]? args = null)
    {
        byte[] data = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan(0), nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
        for (int i = 0; i < (args?.Length ?? 0); i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16 + (8 * i)), args![i]);
        }

        uint a = 0;
        for (int pc = 0; pc < program.Length; pc++)
        {
            SockFilter insn = program[pc];
            switch (insn.Code)
            {
                case 0x20: // BPF_LD | BPF_W | BPF_ABS
                    a = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)insn.K));
                    break;
                case 0x74: // BPF_ALU | BPF_RSH | BPF_K
                    a >>= (int)insn.K;
                    break;
                case 0x54: // BPF_ALU | BPF_AND | BPF_K
                    a &= insn.K;
                    break;
                case 0x15: // BPF_JMP | BPF_JEQ | BPF_K
                    pc += a == insn.K ? insn.JumpTrue : insn.JumpFalse;
                    break;
                case 0x35: // BPF_JMP | BPF_JGE | BPF_K
                    pc += a >= insn.K ? insn.JumpTrue : insn.JumpFalse;
                    break;
                case 0x06: // BPF_RET | BPF_K
                    return insn.K;
                default:
                    throw new InvalidOperationException($"instruction {pc}: opcode {insn.Code:x} not handled");
            }
        }

        throw new InvalidOperationException("the program ran off its end (the kernel rejects such a program)");
    }
}
