using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_translation</c> (KVM_TRANSLATE): guest-linear to guest-physical.</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmTranslation
{
    public ulong LinearAddress;
    public ulong PhysicalAddress;
    public byte Valid;
    public byte Writeable;
    public byte Usermode;
    private fixed byte _pad[5];
}
