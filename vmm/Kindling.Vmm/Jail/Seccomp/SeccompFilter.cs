using Kindling.Vmm.Interop;
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
    public static SockFilter[] Build(IReadOnlyCollection<int> allowed, IReadOnlyCollection<SeccompArgumentRule> rules,
        IReadOnlyCollection<uint> ioctlTypes, IReadOnlyCollection<uint> ioctlRequests, uint defaultAction = SECCOMP_RET_KILL_PROCESS)
    {
        List<SockFilter> program =
        [
            LoadWord(SeccompDataArch),
            Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
            Return(SECCOMP_RET_KILL_PROCESS),
            LoadWord(SeccompDataNr),
            Jump(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1),
            Return(SECCOMP_RET_KILL_PROCESS),
        ];

        HashSet<int> ruled = [.. rules.Select(r => r.Syscall), X64Syscall.ioctl];
        foreach (int nr in allowed.Where(n => !ruled.Contains(n)).Distinct().Order())
        {
            program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, (uint)nr, 0, 1));
            program.Add(Return(SECCOMP_RET_ALLOW));
        }

        // Each block starts with "not this syscall: skip the block" (A still holds nr) and ends in a return.
        foreach (SeccompArgumentRule rule in rules)
        {
            List<SockFilter> block = [LoadWord(SeccompDataArgLow(rule.ArgumentIndex))];
            foreach (uint value in rule.AllowedValues)
            {
                block.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, value, 0, 1));
                block.Add(Return(SECCOMP_RET_ALLOW));
            }

            block.Add(Return(rule.Otherwise));
            AddBlock(program, rule.Syscall, block);
        }

        if (allowed.Contains(X64Syscall.ioctl))
        {
            // The request is args[1] (the kernel's ioctl takes it as unsigned int): first its type byte
            // (_IOC_TYPE: bits 8-15), then whole request values.
            List<SockFilter> block =
            [
                LoadWord(SeccompDataArgLow(1)),
                Statement(BPF_ALU | BPF_RSH | BPF_K, 8),
                Statement(BPF_ALU | BPF_AND | BPF_K, 0xff),
            ];
            foreach (uint type in ioctlTypes)
            {
                block.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, type, 0, 1));
                block.Add(Return(SECCOMP_RET_ALLOW));
            }

            block.Add(LoadWord(SeccompDataArgLow(1)));
            foreach (uint request in ioctlRequests)
            {
                block.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, request, 0, 1));
                block.Add(Return(SECCOMP_RET_ALLOW));
            }

            block.Add(Return(defaultAction));
            AddBlock(program, X64Syscall.ioctl, block);
        }

        program.Add(Return(defaultAction));
        if (program.Count > BPF_MAXINSNS)
        {
            throw new JailException($"the seccomp program has {program.Count} instructions; the kernel accepts {BPF_MAXINSNS}");
        }

        return [.. program];
    }

    /// <summary>The VMM's filter: <see cref="SeccompAllowlist"/> with kill-process as the default.</summary>
    public static SockFilter[] BuildVmmFilter(uint defaultAction = SECCOMP_RET_KILL_PROCESS) =>
        Build(SeccompAllowlist.Syscalls, SeccompAllowlist.ArgumentRules, SeccompAllowlist.IoctlTypes, SeccompAllowlist.IoctlRequests, defaultAction);

    private static void AddBlock(List<SockFilter> program, int syscall, List<SockFilter> block)
    {
        if (block.Count > byte.MaxValue)
        {
            throw new JailException($"the seccomp rule for syscall {syscall} has {block.Count} instructions; the limit is {byte.MaxValue}");
        }

        program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, (uint)syscall, 0, (byte)block.Count));
        program.AddRange(block);
    }

    /// <summary>
    /// Sets no_new_privs and installs <paramref name="program"/> on all threads. Irreversible for this process.
    /// </summary>
    public static unsafe void Install(SockFilter[] program)
    {
        LibcJail.SetNoNewPrivileges();
        fixed (SockFilter* instructions = program)
        {
            SockFprog fprog = new() { Length = checked((ushort)program.Length), Filter = instructions };
            // SAFETY: fprog and the pinned instructions outlive the call; the kernel copies the program.
            LibcJail.InstallSeccompFilter((IntPtr)(&fprog), LibcJail.SECCOMP_FILTER_FLAG_TSYNC);
        }
    }
}
