using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_vcpu_events</c> (KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS), nested structs flattened.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmVcpuEvents
{
    public byte ExceptionInjected;
    public byte ExceptionNr;
    public byte ExceptionHasErrorCode;
    public byte ExceptionPending;
    public uint ExceptionErrorCode;

    public byte InterruptInjected;
    public byte InterruptNr;
    public byte InterruptSoft;
    public byte InterruptShadow;

    public byte NmiInjected;
    public byte NmiPending;
    public byte NmiMasked;
    private readonly byte _nmiPad;

    public uint SipiVector;
    public uint Flags;

    public byte Smi;
    public byte SmiPending;
    public byte SmiInsideNmi;
    public byte LatchedInit;

    public byte TripleFaultPending;
    private fixed byte _reserved[26];
    public byte ExceptionHasPayload;
    public ulong ExceptionPayload;
}
