using System.Runtime.InteropServices;
using Kindling.Vmm.Jail.Seccomp;

namespace Kindling.Vmm.Tests.Jail.Seccomp;

public sealed class SeccompFilterTests
{
    private const uint Allow = 0x7fff0000;
    private const uint KillProcess = 0x80000000;
    private const uint AuditArchX8664 = 0xC000003E;
    private const uint AuditArchI386 = 0x40000003;

    private static readonly SockFilter[] Program = SeccompFilter.BuildVmmFilter();

    [Fact]
    public void SockFilter_Layout_MatchesLinuxFilterH()
    {
        Assert.Equal(8, Marshal.SizeOf<SockFilter>());
        Assert.Equal(0, (int)Marshal.OffsetOf<SockFilter>("<Code>k__BackingField"));
        Assert.Equal(2, (int)Marshal.OffsetOf<SockFilter>("<JumpTrue>k__BackingField"));
        Assert.Equal(3, (int)Marshal.OffsetOf<SockFilter>("<JumpFalse>k__BackingField"));
        Assert.Equal(4, (int)Marshal.OffsetOf<SockFilter>("<K>k__BackingField"));
    }

    [Theory]
    [InlineData(0)] // read
    [InlineData(1)] // write
    [InlineData(202)] // futex
    [InlineData(435)] // clone3
    [InlineData(9)] // mmap
    [InlineData(232)] // epoll_wait
    public void Build_AllowlistedSyscall_IsAllowed(int nr) => Assert.Equal(Allow, BpfInterpreter.Run(Program, nr, AuditArchX8664));

    [Theory]
    [InlineData(101)] // ptrace
    [InlineData(165)] // mount
    [InlineData(59)] // execve
    [InlineData(57)] // fork
    [InlineData(56)] // clone
    [InlineData(105)] // setuid
    [InlineData(155)] // pivot_root
    [InlineData(321)] // bpf
    [InlineData(62)] // kill
    [InlineData(19)] // readv: never made by the traced VMM
    [InlineData(20)] // writev
    [InlineData(285)] // fallocate
    [InlineData(283)] // timerfd_create
    [InlineData(52)] // getpeername
    public void Build_SyscallOutsideAllowlist_KillsProcess(int nr) => Assert.Equal(KillProcess, BpfInterpreter.Run(Program, nr, AuditArchX8664));

    [Fact]
    public void Build_OtherArchitecture_KillsEvenAllowedNumbers() =>
        Assert.Equal(KillProcess, BpfInterpreter.Run(Program, 0, AuditArchI386));

    [Fact]
    public void Build_X32SyscallNumber_Kills() =>
        Assert.Equal(KillProcess, BpfInterpreter.Run(Program, unchecked((int)(0x40000000u | 0)), AuditArchX8664));

    [Theory]
    [InlineData(0xAE80u, true)] // KVM_RUN
    [InlineData(0x4010AE46u, true)] // KVM_SET_USER_MEMORY_REGION (_IOW(KVMIO, 0x46, 32 bytes))
    [InlineData(0x400454CAu, true)] // TUNSETIFF
    [InlineData(0x5401u, true)] // TCGETS
    [InlineData(0x5412u, false)] // TIOCSTI: inject terminal input
    [InlineData(0x5422u, false)] // TIOCNOTTY
    [InlineData(0x40049409u, false)] // BTRFS_IOC_CLONE
    [InlineData(0x541Bu, false)] // FIONREAD: never made by the traced VMM
    [InlineData(0x5413u, false)] // TIOCGWINSZ
    [InlineData(0x800454D2u, false)] // TUNGETIFF
    public void Build_Ioctl_AllowedOnlyForKvmAndNamedRequests(uint request, bool allowed) =>
        Assert.Equal(allowed ? Allow : KillProcess, BpfInterpreter.Run(Program, 16, AuditArchX8664, [3, request]));

    [Fact]
    public void Build_UnixSocket_IsAllowedAndInetSocketFailsWithEafnosupport()
    {
        Assert.Equal(Allow, BpfInterpreter.Run(Program, 41, AuditArchX8664, [1, 1]));
        Assert.Equal(0x00050000u | 97, BpfInterpreter.Run(Program, 41, AuditArchX8664, [2, 2]));
        Assert.Equal(0x00050000u | 97, BpfInterpreter.Run(Program, 41, AuditArchX8664, [10, 2]));
    }

    [Fact]
    public void Build_Prctl_AllowsThreadNamesOnly()
    {
        Assert.Equal(Allow, BpfInterpreter.Run(Program, 157, AuditArchX8664, [15]));
        Assert.Equal(KillProcess, BpfInterpreter.Run(Program, 157, AuditArchX8664, [38])); // PR_SET_NO_NEW_PRIVS
        Assert.Equal(KillProcess, BpfInterpreter.Run(Program, 157, AuditArchX8664, [22])); // PR_SET_SECCOMP
    }

    [Fact]
    public void Build_EveryAllowlistedNumber_IsAllowedWithPermittedArguments()
    {
        foreach (int nr in SeccompAllowlist.Syscalls)
        {
            ulong[] args = nr switch { 41 => [1], 157 => [15], 16 => [3, 0xAE80], _ => [] };
            Assert.Equal(Allow, BpfInterpreter.Run(Program, nr, AuditArchX8664, args));
        }
    }

    /// <summary>The tracing filter logs where the real one kills, rules included; errno rules stay errno.</summary>
    [Fact]
    public void BuildVmmFilter_LogOnly_LogsInsteadOfKilling()
    {
        const uint log = 0x7ffc0000;
        SockFilter[] tracing = SeccompFilter.BuildVmmFilter(log);

        Assert.Equal(log, BpfInterpreter.Run(tracing, 101, AuditArchX8664)); // ptrace
        Assert.Equal(log, BpfInterpreter.Run(tracing, 157, AuditArchX8664, [38])); // prctl(PR_SET_NO_NEW_PRIVS)
        Assert.Equal(log, BpfInterpreter.Run(tracing, 16, AuditArchX8664, [3, 0x5412u])); // ioctl(TIOCSTI)
        Assert.Equal(0x00050000u | 97, BpfInterpreter.Run(tracing, 41, AuditArchX8664, [2, 2])); // socket(AF_INET)
        Assert.Equal(Allow, BpfInterpreter.Run(tracing, 0, AuditArchX8664)); // read
    }
}
