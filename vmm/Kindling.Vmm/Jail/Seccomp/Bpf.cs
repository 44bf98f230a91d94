namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>Classic BPF opcodes (&lt;linux/bpf_common.h&gt;) and the seccomp_data offsets (&lt;linux/seccomp.h&gt;).</summary>
internal static class Bpf
{
    public const ushort BPF_LD = 0x00;
    public const ushort BPF_ALU = 0x04;
    public const ushort BPF_JMP = 0x05;
    public const ushort BPF_RET = 0x06;
    public const ushort BPF_W = 0x00;
    public const ushort BPF_ABS = 0x20;
    public const ushort BPF_K = 0x00;
    public const ushort BPF_JEQ = 0x10;
    public const ushort BPF_JGE = 0x30;
    public const ushort BPF_RSH = 0x70;
    public const ushort BPF_AND = 0x50;

    /// <summary>Largest program the kernel accepts (BPF_MAXINSNS).</summary>
    public const int BPF_MAXINSNS = 4096;

    // struct seccomp_data { int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]; }
    public const uint SeccompDataNr = 0;
    public const uint SeccompDataArch = 4;

    /// <summary>Low 32 bits of args[i] (little endian).</summary>
    public static uint SeccompDataArgLow(int i) => 16 + (8 * (uint)i);

    /// <summary>High 32 bits of args[i].</summary>
    public static uint SeccompDataArgHigh(int i) => 20 + (8 * (uint)i);

    // <linux/audit.h>: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
    public const uint AUDIT_ARCH_X86_64 = 0xC000003E;

    /// <summary>x32 syscalls carry this bit in nr on x86_64; refused outright.</summary>
    public const uint X32_SYSCALL_BIT = 0x40000000;

    // <linux/seccomp.h> return actions.
    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000;
    public const uint SECCOMP_RET_TRAP = 0x00030000;
    public const uint SECCOMP_RET_ERRNO = 0x00050000;
    public const uint SECCOMP_RET_LOG = 0x7ffc0000;
    public const uint SECCOMP_RET_ALLOW = 0x7fff0000;

    public static SockFilter Statement(ushort code, uint k) => new(code, 0, 0, k);

    public static SockFilter Jump(ushort code, uint k, byte jumpTrue, byte jumpFalse) => new(code, jumpTrue, jumpFalse, k);

    public static SockFilter LoadWord(uint offset) => Statement(BPF_LD | BPF_W | BPF_ABS, offset);

    public static SockFilter Return(uint action) => Statement(BPF_RET | BPF_K, action);
}
