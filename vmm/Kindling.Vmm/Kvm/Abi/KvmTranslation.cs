using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_translation</c> (KVM_TRANSLATE): guest-linear to guest-physical.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmTranslation
{
    public ulong LinearAddress;
    public ulong PhysicalAddress;
    public byte Valid;
    public byte Writeable;
    public byte Usermode;
    private fixed byte _pad[5];
}
