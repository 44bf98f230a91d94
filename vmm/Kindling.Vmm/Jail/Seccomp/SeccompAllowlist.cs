using static Kindling.Vmm.Jail.Seccomp.Bpf;
using S = Kindling.Vmm.Jail.Seccomp.X64Syscall;

namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>
/// The syscalls the jailed VMM may make once the filter is installed; anything else kills the process
/// (SECCOMP_RET_KILL_PROCESS). Traced, not guessed: the real VMM ran real test guests in its jail with the filter
/// in log-only mode (<c>kindling-vmm jail --seccomp-log</c>) under <c>strace -f</c>, and every call after
/// <c>seccomp(SECCOMP_SET_MODE_FILTER)</c> was collected: hello; blk (read-write + read-only drive, flush); rng;
/// net over a TAP with a host reply; mmds (ARP/TCP/HTTP to the in-VMM metadata service, tokens); vsock (guest to
/// a host Unix socket); the runner's shape (--api-sock, every section PUT over the API, serial/log/metrics FIFOs,
/// a 2-vCPU guest running ~5 s: tiered JIT, GC); rate-limited blk and entropy stopped by SIGTERM; uart-flood to a
/// FIFO with a slow reader (back-pressure and the spill file). Nothing outside this list was seen; entries never
/// seen were removed unless named below as a libc/runtime alternative of a seen call or a path too rare to trace.
/// What the runtime does only before the filter (execve, mount, pivot_root, setresuid, OpenSSL's initialisation
/// (see <see cref="JailInit"/>), memfd_create, access, ...) is not here.
/// The native build (NativeAOT, started from its copy in the chroot) was traced the same way on a host without KVM:
/// the API socket, every section PUT and read back, MMDS put/patch/get, logger and metrics files, FlushMetrics, a
/// refused InstanceStart, and the jail's debug actions (JailLauncherTests, JailNativeBuildTests run it under the
/// filter): every call it made is on this list (43 distinct, all among those above; no JIT, so no code-heap
/// double mapping). The list is not narrowed for it: what only a booted guest does (KVM ioctls, vCPU threads,
/// eventfds, drives, TAP) has not been traced with the native build, and the managed layouts use the same filter.
/// </summary>
public static class SeccompAllowlist
{
    private const uint AF_UNIX = 1;
    private const uint EAFNOSUPPORT = 97;
    private const uint PR_SET_NAME = 15;
    private const uint PR_GET_NAME = 16;

    internal static readonly int[] SyscallNumbers =
    [
        // Runtime memory management: GC heap, JIT code heap (double-mapped through the startup memfd), stacks of
        // new threads, guest RAM. Not traced but kept: mremap (glibc realloc of large native blocks), membarrier
        // (the runtime's FlushProcessWriteBuffers where the kernel offers it; this host fell back to mprotect).
        S.mmap, S.munmap, S.mprotect, S.madvise, S.mremap, S.brk, S.ftruncate, S.membarrier,

        // Threads and synchronisation: vCPU threads and the runtime's own (clone3 only, no fork/vfork/clone),
        // their per-thread set-up, futex waits, scheduling queries the runtime makes at thread start.
        S.clone3, S.set_robust_list, S.rseq, S.sigaltstack, S.futex, S.sched_yield, S.sched_getaffinity,
        S.sched_setaffinity, S.sched_getparam, S.sched_getscheduler, S.sched_setscheduler,
        S.sched_get_priority_max, S.sched_get_priority_min, S.gettid, S.getpid, S.exit, S.exit_group,

        // Signals: the runtime's handlers, GC thread suspension (activation signal sent with tgkill), vCPU kicks,
        // return from handlers.
        S.rt_sigaction, S.rt_sigprocmask, S.rt_sigreturn, S.tgkill,

        // Event loops: epoll (the runtime's socket engine and the VMM loop), eventfd (irqfd/ioeventfd, queue
        // notifications), pipes (the runtime's wake-up pipe), poll (console). epoll_pwait and ppoll: what other
        // glibc builds turn epoll_wait and poll into.
        S.epoll_create1, S.epoll_ctl, S.epoll_wait, S.epoll_pwait, S.eventfd2, S.pipe2, S.poll, S.ppoll,

        // File I/O on the jail's few files and already-open descriptors: drives (positional reads/writes, fsync
        // for flush), serial/log/metrics FIFOs and the spill file (lseek, ftruncate), the TAP (read/write),
        // assemblies the runtime still loads (openat, fstat, pread64, readlink), FileStream's advisory locks
        // (flock), descriptor flags. newfstatat: newer glibc's stat/fstat/lstat. getdents64: directory listings
        // (the Report debug action).
        S.read, S.write, S.pread64, S.pwrite64, S.lseek, S.fsync, S.openat, S.close, S.dup, S.fcntl, S.flock,
        S.fstat, S.newfstatat, S.stat, S.lstat, S.fstatfs, S.getdents64, S.readlink, S.unlink, S.ioctl,

        // Sockets for the API (Kestrel on a Unix socket) and the vsock backend (Unix sockets only, see
        // ArgumentRules). Not traced but kept: sendmsg (Kestrel's multi-segment writes), getsockopt (SO_ERROR after
        // a non-blocking connect).
        S.socket, S.bind, S.listen, S.accept4, S.connect, S.sendto, S.recvfrom, S.sendmsg, S.recvmsg,
        S.shutdown, S.getsockopt, S.setsockopt, S.getsockname,

        // Time through the vDSO; these are its fallbacks where the host clocksource has no vDSO support, and
        // Thread.Sleep (nanosleep, or clock_nanosleep in newer glibc). getrandom: OpenSSL's DRBG reseeding and
        // glibc's arc4random. sysinfo/getrusage/prlimit64: the GC's and the runtime's resource queries.
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

    /// <summary>
    /// Individual ioctl requests: the TAP set-up the VMM does (Tap.Open) and Console's isatty (TCGETS); the traces
    /// saw no other. Sockets and descriptors are made non-blocking / close-on-exec through fcntl, not ioctl.
    /// </summary>
    internal static readonly uint[] IoctlRequestCodes = [TUNSETIFF, TUNSETOFFLOAD, TUNSETVNETHDRSZ, TCGETS];

    public static IReadOnlyList<int> Syscalls => SyscallNumbers;

    public static IReadOnlyList<SeccompArgumentRule> ArgumentRules => Rules;

    public static IReadOnlyList<uint> IoctlTypes => IoctlTypeBytes;

    public static IReadOnlyList<uint> IoctlRequests => IoctlRequestCodes;

    // <linux/kvm.h>, <linux/if_tun.h>, <asm-generic/ioctls.h>
    private const uint KVMIO = 0xAE;
    private const uint TUNSETIFF = 0x400454ca;
    private const uint TUNSETOFFLOAD = 0x400454d0;
    private const uint TUNSETVNETHDRSZ = 0x400454d8;
    private const uint TCGETS = 0x5401;
}
