using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_cpuid_entry2</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuidEntry2
{
    /// <summary>KVM_CPUID_FLAG_SIGNIFCANT_INDEX: the entry depends on ECX (<see cref="Index"/>).</summary>
    public const uint FlagSignificantIndex = 1;

    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    private readonly uint _padding0, _padding1, _padding2;
}

/// <summary>The fixed header of <c>struct kvm_cpuid2</c>; <c>nent</c> entries follow it in memory.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuid2
{
    public uint Nent;
    private readonly uint _padding;
}
