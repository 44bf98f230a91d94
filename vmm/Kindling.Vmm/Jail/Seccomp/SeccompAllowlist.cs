using static Kindling.Vmm.Jail.Seccomp.Bpf;
using S = Kindling.Vmm.Jail.Seccomp.X64Syscall;

namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>
/// The syscalls the jailed VMM may make once the filter is installed; anything else kills the process
/// (SECCOMP_RET_KILL_PROCESS). Found empirically: the jailed process was run under <c>strace -f</c> in the
/// <see cref="JailDebugAction.Workload"/> and <see cref="JailDebugAction.Report"/> debug actions (runtime start,
/// threads, thread pool, GC, timers, epoll, a Unix-socket listener and client, file I/O) and every call made
/// after <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> by the jailed process was listed; the VMM's own calls (KVM,
/// eventfd, TAP, block I/O) were added from its code. What the runtime does only before the filter (execve,
/// mount, pivot_root, setresuid, memfd_create, access, ...) is not here.
/// </summary>
public static class SeccompAllowlist
{
    private const uint AF_UNIX = 1;
    private const uint EAFNOSUPPORT = 97;
    private const uint PR_SET_NAME = 15;
    private const uint PR_GET_NAME = 16;

    internal static readonly int[] SyscallNumbers =
    [
        // Runtime memory management: GC heap, JIT code heap (double-mapped through the startup memfd),
        // stacks of new threads, guest RAM (mmap of anonymous shared memory).
        S.mmap, S.munmap, S.mprotect, S.madvise, S.mremap, S.brk, S.ftruncate, S.membarrier,

        // Threads and synchronisation: vCPU threads and the runtime's own (clone3 only, no fork/vfork/clone),
        // their per-thread set-up, futex waits, scheduling queries the runtime makes at thread start.
        S.clone3, S.set_robust_list, S.rseq, S.sigaltstack, S.futex, S.sched_yield, S.sched_getaffinity,
        S.sched_setaffinity, S.sched_getparam, S.sched_getscheduler, S.sched_setscheduler,
        S.sched_get_priority_max, S.sched_get_priority_min, S.gettid, S.getpid, S.exit, S.exit_group,

        // Signals: the runtime's handlers, GC thread suspension (activation signal sent with tgkill),
        // vCPU kicks, return from handlers.
        S.rt_sigaction, S.rt_sigprocmask, S.rt_sigreturn, S.tgkill,

        // Event loops: epoll (the runtime's socket engine and the VMM loop), eventfd (irqfd/ioeventfd, queue
        // notifications), timerfd (rate limiters), pipes (the runtime's wake-up pipe), poll (console).
        S.epoll_create1, S.epoll_ctl, S.epoll_wait, S.epoll_pwait, S.eventfd2, S.timerfd_create,
        S.timerfd_settime, S.timerfd_gettime, S.pipe2, S.poll, S.ppoll,

        // File I/O on the jail's few files and already-open descriptors: drives (positional and vectored
        // reads/writes, flush), serial/log FIFOs, the TAP device (readv/writev), assemblies the runtime still
        // loads (openat, fstat, pread64), directory listings, descriptor flags.
        S.read, S.write, S.readv, S.writev, S.pread64, S.pwrite64, S.preadv, S.pwritev, S.lseek, S.fsync,
        S.fdatasync, S.fallocate, S.openat, S.close, S.dup, S.dup3, S.fcntl, S.flock, S.fstat, S.newfstatat,
        S.stat, S.lstat, S.fstatfs, S.getdents64, S.readlink, S.unlink, S.ioctl,

        // Sockets for the API (Unix domain only, see ArgumentRules) and the vsock backend.
        S.socket, S.bind, S.listen, S.accept4, S.connect, S.sendto, S.recvfrom, S.sendmsg, S.recvmsg,
        S.shutdown, S.getsockopt, S.setsockopt, S.getsockname, S.getpeername,

        // Time (mostly through the vDSO; these are its fallbacks) and resource queries of the GC.
        S.clock_gettime, S.clock_getres, S.clock_nanosleep, S.nanosleep, S.gettimeofday, S.getrandom,
        S.sysinfo, S.getrusage, S.prlimit64,

        // Thread names (PR_SET_NAME/PR_GET_NAME only, see ArgumentRules).
        S.prctl,
    ];

    internal static readonly SeccompArgumentRule[] Rules =
    [
        // The runtime probes IPv4/IPv6 support by opening sockets: answer "not supported" instead of killing;
        // the VMM itself only needs Unix sockets.
        new(S.socket, 0, [AF_UNIX], SECCOMP_RET_ERRNO | EAFNOSUPPORT),
        new(S.prctl, 0, [PR_SET_NAME, PR_GET_NAME], SECCOMP_RET_KILL_PROCESS),
    ];

    /// <summary>ioctl request types allowed whole: KVM (KVMIO, on /dev/kvm, VM and vCPU descriptors only).</summary>
    internal static readonly uint[] IoctlTypeBytes = [KVMIO];

    /// <summary>Individual ioctl requests: TUN set-up, terminal queries of Console, descriptor flags.</summary>
    internal static readonly uint[] IoctlRequestCodes =
    [
        TUNSETIFF, TUNGETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TUNSETSNDBUF, TCGETS, TIOCGWINSZ, FIONBIO, FIOCLEX,
        FIONREAD,
    ];

    public static IReadOnlyList<int> Syscalls => SyscallNumbers;

    public static IReadOnlyList<SeccompArgumentRule> ArgumentRules => Rules;

    public static IReadOnlyList<uint> IoctlTypes => IoctlTypeBytes;

    public static IReadOnlyList<uint> IoctlRequests => IoctlRequestCodes;

    // <linux/kvm.h>, <linux/if_tun.h>, <asm-generic/ioctls.h>
    private const uint KVMIO = 0xAE;
    private const uint TUNSETIFF = 0x400454ca;
    private const uint TUNGETIFF = 0x800454d2;
    private const uint TUNSETOFFLOAD = 0x400454d0;
    private const uint TUNSETVNETHDRSZ = 0x400454d8;
    private const uint TUNSETSNDBUF = 0x400454d4;
    private const uint TCGETS = 0x5401;
    private const uint TIOCGWINSZ = 0x5413;
    private const uint FIONBIO = 0x5421;
    private const uint FIOCLEX = 0x5451;
    private const uint FIONREAD = 0x541b;
}
