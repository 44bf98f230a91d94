using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_enable_cap</c> (KVM_ENABLE_CAP).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmEnableCap
{
    public uint Cap;
    public uint Flags;
    public fixed ulong Args[4];
    private fixed byte _pad[64];
}
