using static Kindling.Vmm.Jail.Seccomp.Bpf;

namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>
/// Compiles <see cref="SeccompAllowlist"/> into a classic BPF program and installs it on every thread of the
/// process (SECCOMP_FILTER_FLAG_TSYNC): the .NET runtime's threads exist before the filter, so a filter on the
/// calling thread alone would leave them unconfined.
/// </summary>
/// <remarks>
/// Layout: check the architecture (anything but x86_64 is killed), load the syscall number, refuse x32 numbers,
/// then one "jeq nr → allow" pair per allowed syscall (jumps stay within 8-bit offsets however long the list),
/// then the argument rules (socket domain, prctl option) and ioctl's request filter, then the default action.
/// ioctl is allowed only for KVM's request type (0xAE) and a few named TUN, terminal and descriptor requests.
/// </remarks>
public static class SeccompFilter
{
    /// <summary>Builds the program; <paramref name="defaultAction"/> is what a syscall outside the list gets.</summary>
    /// <remarks>Arrays and plain loops only: this runs inside the jail at start-up, where every generic
    /// instantiation (List of a struct, LINQ) costs JIT time.</remarks>
    public static SockFilter[] Build(int[] allowed, SeccompArgumentRule[] rules, uint[] ioctlTypes, uint[] ioctlRequests,
        uint defaultAction = SECCOMP_RET_KILL_PROCESS)
    {
        Emitter e = new(new SockFilter[BPF_MAXINSNS]);
        e.Add(LoadWord(SeccompDataArch));
        e.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
        e.Add(Return(SECCOMP_RET_KILL_PROCESS));
        e.Add(LoadWord(SeccompDataNr));
        e.Add(Jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1));
        e.Add(Return(SECCOMP_RET_KILL_PROCESS));

        int[] plain = (int[])allowed.Clone();
        Array.Sort(plain);
        for (int i = 0; i < plain.Length; i++)
        {
            int nr = plain[i];
            if ((i > 0 && nr == plain[i - 1]) || nr == X64Syscall.ioctl || HasRule(rules, nr))
            {
                continue;
            }

            e.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, (uint)nr, 0, 1));
            e.Add(Return(SECCOMP_RET_ALLOW));
        }

        // Each block starts with "not this syscall: skip the block" (A still holds nr) and ends in a return.
        foreach (SeccompArgumentRule rule in rules)
        {
            int start = e.BeginBlock();
            e.Add(LoadWord(SeccompDataArgLow(rule.ArgumentIndex)));
            foreach (uint value in rule.AllowedValues)
            {
                e.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
                e.Add(Return(SECCOMP_RET_ALLOW));
            }

            // A rule that kills follows the default action instead (so a log-only filter logs there too).
            e.Add(Return(rule.Otherwise == SECCOMP_RET_KILL_PROCESS ? defaultAction : rule.Otherwise));
            e.EndBlock(start, rule.Syscall);
        }

        if (Array.IndexOf(allowed, X64Syscall.ioctl) >= 0)
        {
            // The request is args[1] (the kernel's ioctl takes it as unsigned int): first its type byte
            // (_IOC_TYPE: bits 8-15), then whole request values.
            int start = e.BeginBlock();
            e.Add(LoadWord(SeccompDataArgLow(1)));
            e.Add(Statement(BPF_ALU | BPF_RSH | BPF_K, 8));
            e.Add(Statement(BPF_ALU | BPF_AND | BPF_K, 0xff));
            foreach (uint type in ioctlTypes)
            {
                e.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, type, 0, 1));
                e.Add(Return(SECCOMP_RET_ALLOW));
            }

            e.Add(LoadWord(SeccompDataArgLow(1)));
            foreach (uint request in ioctlRequests)
            {
                e.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, request, 0, 1));
                e.Add(Return(SECCOMP_RET_ALLOW));
            }

            e.Add(Return(defaultAction));
            e.EndBlock(start, X64Syscall.ioctl);
        }

        e.Add(Return(defaultAction));
        return e.ToArray();
    }

    /// <summary>The VMM's filter: <see cref="SeccompAllowlist"/> with kill-process as the default.</summary>
    public static SockFilter[] BuildVmmFilter(uint defaultAction = SECCOMP_RET_KILL_PROCESS) =>
        Build(SeccompAllowlist.SyscallNumbers, SeccompAllowlist.Rules, SeccompAllowlist.IoctlTypeBytes, SeccompAllowlist.IoctlRequestCodes, defaultAction);

    private static bool HasRule(SeccompArgumentRule[] rules, int syscall)
    {
        foreach (SeccompArgumentRule rule in rules)
        {
            if (rule.Syscall == syscall)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Appends instructions to a fixed buffer of BPF_MAXINSNS.</summary>
    private sealed class Emitter(SockFilter[] buffer)
    {
        private int _count;

        public void Add(SockFilter instruction)
        {
            if (_count == buffer.Length)
            {
                throw new JailException($"the seccomp program exceeds {BPF_MAXINSNS} instructions, the kernel's limit");
            }

            buffer[_count++] = instruction;
        }

        /// <summary>Reserves the block's "jeq nr" and returns its index.</summary>
        public int BeginBlock()
        {
            Add(default);
            return _count - 1;
        }

        public void EndBlock(int start, int syscall)
        {
            int length = _count - start - 1;
            if (length > byte.MaxValue)
            {
                throw new JailException($"the seccomp rule for syscall {syscall} has {length} instructions; the limit is {byte.MaxValue}");
            }

            buffer[start] = Jump(BPF_JMP | BPF_JEQ | BPF_K, (uint)syscall, 0, (byte)length);
        }

        public SockFilter[] ToArray() => buffer.AsSpan(0, _count).ToArray();
    }

    /// <summary>
    /// Sets no_new_privs and installs <paramref name="program"/> on all threads. Irreversible for this process.
    /// </summary>
    public static unsafe void Install(SockFilter[] program)
    {
        LibcJail.SetNoNewPrivileges();
        // SAFETY: the array is pinned for the block, and Length is its exact element count (checked to fit a ushort).
        fixed (SockFilter* instructions = program)
        {
            SockFprog fprog = new() { Length = checked((ushort)program.Length), Filter = instructions };
            // SAFETY: fprog and the pinned instructions outlive the call; the kernel copies the program.
            LibcJail.InstallSeccompFilter((IntPtr)(&fprog), LibcJail.SECCOMP_FILTER_FLAG_TSYNC);
        }
    }
}
