using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_userspace_memory_region</c> (KVM_SET_USER_MEMORY_REGION).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    /// <summary>Bytes; 0 deletes the slot.</summary>
    public ulong MemorySize;
    /// <summary>The host virtual address backing the slot.</summary>
    public ulong UserspaceAddr;
}
