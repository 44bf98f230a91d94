using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_enable_cap</c> (KVM_ENABLE_CAP).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmEnableCap
{
    public uint Cap;
    public uint Flags;
    public fixed ulong Args[4];
    private fixed byte _pad[64];
}
