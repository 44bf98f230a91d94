using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_fpu</c> (KVM_GET_FPU / KVM_SET_FPU): the legacy FXSAVE-style state.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmFpu
{
    /// <summary>8 x87 registers of 16 bytes each.</summary>
    public fixed byte Fpr[8 * 16];
    public ushort Fcw;
    public ushort Fsw;
    public byte Ftwx;
    private readonly byte _pad1;
    public ushort LastOpcode;
    public ulong LastIp;
    public ulong LastDp;
    /// <summary>16 XMM registers of 16 bytes each.</summary>
    public fixed byte Xmm[16 * 16];
    public uint Mxcsr;
    private readonly uint _pad2;
}
