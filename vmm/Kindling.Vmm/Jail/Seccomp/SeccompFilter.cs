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
/// then ioctl's request filter, then the default action. ioctl is allowed only for the request types the VMM
/// uses (KVM's 0xAE, TUN's 'T') and a few named terminal/descriptor requests.
/// </remarks>
public static class SeccompFilter
{
    /// <summary>Builds the program; <paramref name="defaultAction"/> is what a syscall outside the list gets.</summary>
    public static SockFilter[] Build(IReadOnlyCollection<int> allowed, IReadOnlyCollection<uint> ioctlTypes,
        IReadOnlyCollection<uint> ioctlRequests, uint defaultAction = SECCOMP_RET_KILL_PROCESS)
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

        foreach (int nr in allowed.Where(n => n != X64Syscall.ioctl).Distinct().Order())
        {
            program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, (uint)nr, 0, 1));
            program.Add(Return(SECCOMP_RET_ALLOW));
        }

        if (allowed.Contains(X64Syscall.ioctl))
        {
            // Not ioctl: skip the ioctl block (2 + 2·types + 2·requests + reload instructions) to the default.
            int block = 2 + 1 + (2 * ioctlTypes.Count) + 1 + (2 * ioctlRequests.Count);
            program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, X64Syscall.ioctl, 0, checked((byte)block)));
            // The request is args[1]; its upper 32 bits are ignored by the kernel's ioctl (unsigned int cmd).
            program.Add(LoadWord(SeccompDataArgLow(1)));
            program.Add(Statement(BPF_ALU | BPF_RSH | BPF_K, 8));
            program.Add(Statement(BPF_ALU | BPF_AND | BPF_K, 0xff));
            foreach (uint type in ioctlTypes)
            {
                program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, type, 0, 1));
                program.Add(Return(SECCOMP_RET_ALLOW));
            }

            program.Add(LoadWord(SeccompDataArgLow(1)));
            foreach (uint request in ioctlRequests)
            {
                program.Add(Jump(BPF_JMP | BPF_JEQ | BPF_K, request, 0, 1));
                program.Add(Return(SECCOMP_RET_ALLOW));
            }
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
        Build(SeccompAllowlist.Syscalls, SeccompAllowlist.IoctlTypes, SeccompAllowlist.IoctlRequests, defaultAction);

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
