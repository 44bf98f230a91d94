namespace Kindling.Vmm.Jail;

/// <summary>Debug-only actions of the jailed process, run after the whole jail (seccomp included) is in place.</summary>
public enum JailDebugAction
{
    None,

    /// <summary>Print one JSON line describing the process's view (files, ids, pid, seccomp), then wait for stdin EOF.</summary>
    Report,

    /// <summary>Print "READY", then wait for stdin EOF (startup measurements).</summary>
    Ready,

    /// <summary>Make a syscall outside the allowlist (ptrace); the filter must kill the process with SIGSYS.</summary>
    ForbiddenSyscall,

    /// <summary>Exercise the runtime the way the VMM does (threads, epoll, eventfd, a Unix socket, GC, timers).</summary>
    Workload,
}
