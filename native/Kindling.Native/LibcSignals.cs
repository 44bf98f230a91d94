using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>
/// Signals used to kick vCPU threads out of KVM_RUN: sigaction(2) to install a no-op handler, pthread_kill(3) to
/// deliver it to one thread. Layouts are glibc's x86_64 userspace ABI.
/// </summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
public static unsafe partial class LibcSignals
{
    /// <summary>glibc's userspace sigset_t: 1024 bits.</summary>
    public const int SigsetBytes = 128;

    /// <summary>No SA_RESTART on purpose: an interrupted KVM_RUN must return EINTR to its loop.</summary>
    public const int SA_SIGINFO = 0x4;

    /// <summary>glibc's <c>struct sigaction</c> on x86_64 (152 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SigAction
    {
        public nint Handler;
        public fixed byte Mask[SigsetBytes];
        public int Flags;
        private readonly int _padding;
        public nint Restorer;
    }

    [LibraryImport(Libc.Library, EntryPoint = "sigaction", SetLastError = true)]
    public static partial int SignalAction(int signal, SigAction* action, SigAction* oldAction);

    /// <summary>Returns an errno value (0 on success); pthread functions do not set errno.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "pthread_kill", SetLastError = true)]
    public static partial int PthreadKill(nuint thread, int signal);

    [LibraryImport(Libc.Library, EntryPoint = "pthread_self", SetLastError = true)]
    public static partial nuint PthreadSelf();

    /// <summary>The number of SIGRTMIN in this process (glibc reserves the first few for itself).</summary>
    [LibraryImport(Libc.Library, EntryPoint = "__libc_current_sigrtmin", SetLastError = true)]
    public static partial int CurrentSigRtMin();

    [LibraryImport(Libc.Library, EntryPoint = "__libc_current_sigrtmax", SetLastError = true)]
    public static partial int CurrentSigRtMax();
}
