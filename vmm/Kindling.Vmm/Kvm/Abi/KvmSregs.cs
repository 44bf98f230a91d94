using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_sregs</c> (KVM_GET_SREGS / KVM_SET_SREGS).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmSregs
{
    /// <summary>KVM_NR_INTERRUPTS / 64.</summary>
    public const int InterruptBitmapWords = (256 + 63) / 64;

    public KvmSegment Cs, Ds, Es, Fs, Gs, Ss;
    public KvmSegment Tr, Ldt;
    public KvmDtable Gdt, Idt;
    public ulong Cr0, Cr2, Cr3, Cr4, Cr8;
    public ulong Efer;
    public ulong ApicBase;
    public fixed ulong InterruptBitmap[InterruptBitmapWords];
}
