using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary>
/// <c>struct kvm_run</c>: the page shared with the kernel through mmap of the vCPU fd. The kernel writes the exit
/// fields when KVM_RUN returns; the VMM writes <see cref="ImmediateExit"/> and the data of IN/MMIO-read exits.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmRun
{
    public byte RequestInterruptWindow;
    /// <summary>When non-zero, KVM_RUN returns EINTR at once instead of entering the guest.</summary>
    public byte ImmediateExit;
    private fixed byte _padding1[6];
    public uint ExitReason;
    public byte ReadyForInterruptInjection;
    public byte IfFlag;
    public ushort Flags;
    public ulong Cr8;
    public ulong ApicBase;
    public KvmRunExit Exit;
    public ulong KvmValidRegs;
    public ulong KvmDirtyRegs;
    private fixed byte _syncRegs[2048];
}

/// <summary>The anonymous exit union of <c>struct kvm_run</c> (256 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 256)]
public struct KvmRunExit
{
    [FieldOffset(0)] public KvmRunIo Io;
    [FieldOffset(0)] public KvmRunMmio Mmio;
    [FieldOffset(0)] public KvmRunInternal Internal;
    [FieldOffset(0)] public KvmRunFailEntry FailEntry;
    [FieldOffset(0)] public KvmRunSystemEvent SystemEvent;
    /// <summary><c>hw.hardware_exit_reason</c> (KVM_EXIT_UNKNOWN).</summary>
    [FieldOffset(0)] public ulong HardwareExitReason;
}

/// <summary><c>kvm_run.io</c> (KVM_EXIT_IO). The data lives at <see cref="DataOffset"/> from the start of kvm_run.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunIo
{
    public const byte DirectionIn = 0;
    public const byte DirectionOut = 1;

    public byte Direction;
    public byte Size;
    public ushort Port;
    public uint Count;
    public ulong DataOffset;
}

/// <summary><c>kvm_run.mmio</c> (KVM_EXIT_MMIO).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmRunMmio
{
    public ulong PhysAddr;
    public fixed byte Data[8];
    public uint Len;
    public byte IsWrite;
}

/// <summary><c>kvm_run.internal</c> (KVM_EXIT_INTERNAL_ERROR).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmRunInternal
{
    public const int MaxData = 16;

    public uint Suberror;
    public uint Ndata;
    public fixed ulong Data[MaxData];
}

/// <summary><c>kvm_run.fail_entry</c> (KVM_EXIT_FAIL_ENTRY).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

/// <summary><c>kvm_run.system_event</c> (KVM_EXIT_SYSTEM_EVENT); <c>flags</c> is a union with <c>data[0]</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmRunSystemEvent
{
    public uint Type;
    public uint Ndata;
    public fixed ulong Data[16];
}
