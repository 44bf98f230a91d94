using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_sregs</c> (KVM_GET_SREGS / KVM_SET_SREGS).</summary>
[StructLayout(LayoutKind.Sequential)]
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
