using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_msr_entry</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrEntry
{
    public uint Index;
    private readonly uint _reserved;
    public ulong Data;
}

/// <summary>The fixed header of <c>struct kvm_msrs</c>; <c>nmsrs</c> entries follow it in memory.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrs
{
    public uint Nmsrs;
    private readonly uint _pad;
}
