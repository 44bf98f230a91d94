using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_irq_level</c> (KVM_IRQ_LINE); the first word is a union of <c>irq</c> and <c>status</c>.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
public struct KvmIrqLevel
{
    [FieldOffset(0)] public uint Irq;
    [FieldOffset(0)] public int Status;
    [FieldOffset(4)] public uint Level;
}
