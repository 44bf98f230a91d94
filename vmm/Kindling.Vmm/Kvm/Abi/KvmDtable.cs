using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_dtable</c>: GDTR or IDTR.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmDtable
{
    public ulong Base;
    public ushort Limit;
    private readonly ushort _padding0;
    private readonly ushort _padding1;
    private readonly ushort _padding2;
}
