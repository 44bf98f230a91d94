using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Gets a vCPU thread out of KVM_RUN, as Firecracker does:
/// <list type="number">
/// <item>the stopper sets <c>kvm_run.immediate_exit = 1</c> (<see cref="VcpuFd.RequestImmediateExit"/>), so a thread
/// that is about to enter KVM_RUN returns EINTR at once instead of entering the guest;</item>
/// <item>then it sends a real-time signal to the thread with <c>pthread_kill</c>: a thread already inside the guest
/// is forced out, and KVM_RUN returns EINTR.</item>
/// </list>
/// The signal's handler is a no-op installed once per process with <c>sigaction</c> (without SA_RESTART): it only
/// exists so that the signal interrupts the syscall instead of killing the process. It is native code — one
/// <c>ret</c> instruction on a page of its own — not a managed <see cref="UnmanagedCallersOnlyAttribute"/> function:
/// the signal may land while the vCPU thread runs managed code (handling an exit), and the runtime aborts the
/// process when a reverse P/Invoke starts on a thread that is already in managed code. The signal is SIGRTMIN+<see cref="SignalOffset"/>: .NET's runtime
/// already uses SIGRTMIN itself (thread activation injection for GC suspension), so Kindling stays clear of it.
/// </summary>
// SAFETY: the only pointer is the handler page this class mmaps once and never unmaps; it writes one byte inside it before making it executable.
public static unsafe class VcpuKicker
{
    /// <summary>Offset from SIGRTMIN of the kick signal.</summary>
    public const int SignalOffset = 2;

    private static readonly object Gate = new();
    private static int _signal;

    /// <summary>The kick signal's number (installs the handler on first use).</summary>
    public static int Signal
    {
        get
        {
            EnsureInstalled();
            return _signal;
        }
    }

    /// <summary>Installs the no-op handler for the kick signal (idempotent).</summary>
    public static void EnsureInstalled()
    {
        lock (Gate)
        {
            if (_signal != 0)
            {
                return;
            }

            int signal = LibcSignals.CurrentSigRtMin() + SignalOffset;
            if (signal > LibcSignals.CurrentSigRtMax())
            {
                throw new KvmException($"no real-time signal SIGRTMIN+{SignalOffset} available for vCPU kicks");
            }

            LibcSignals.SigAction action = default;
            action.Handler = NativeNoOpHandler();
            action.Flags = 0;
            if (LibcSignals.SignalAction(signal, &action, null) != 0)
            {
                throw new KvmException($"sigaction({signal}) for the vCPU kick signal", Marshal.GetLastPInvokeError());
            }

            _signal = signal;
        }
    }

    /// <summary>The calling thread's pthread id, to pass to <see cref="Kick"/> later.</summary>
    public static nuint CurrentThread() => LibcSignals.PthreadSelf();

    /// <summary>Sends the kick signal to <paramref name="thread"/>, which must still be running.</summary>
    public static void Kick(nuint thread)
    {
        int error = LibcSignals.PthreadKill(thread, Signal);
        if (error != 0)
        {
            throw new KvmException("pthread_kill of a vCPU thread", error);
        }
    }

    /// <summary>x86-64 RET.</summary>
    private const byte X86Ret = 0xC3;

    /// <summary>A page holding one RET, mapped read+execute: a signal handler that returns at once.</summary>
    private static nint NativeNoOpHandler()
    {
        nuint size = (nuint)Environment.SystemPageSize;
        nint page = LibcMemory.Mmap(0, size, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE,
            LibcMemory.MAP_PRIVATE | LibcMemory.MAP_ANONYMOUS, -1, 0);
        if (page == LibcMemory.MapFailed)
        {
            throw new KvmException("mmap of the vCPU kick handler page", Marshal.GetLastPInvokeError());
        }

        // SAFETY: page is a fresh private writable mapping of at least one byte.
        *(byte*)page = X86Ret;
        if (LibcMemory.Mprotect(page, size, LibcMemory.PROT_READ | LibcMemory.PROT_EXEC) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = LibcMemory.Munmap(page, size);
            throw new KvmException("mprotect of the vCPU kick handler page", errno);
        }

        return page;
    }
}
