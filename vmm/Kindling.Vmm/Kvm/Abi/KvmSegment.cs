using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_segment</c>: a segment register with its hidden descriptor cache.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSegment
{
    public ulong Base;
    public uint Limit;
    public ushort Selector;
    public byte Type;
    public byte Present;
    public byte Dpl;
    /// <summary><c>db</c>: default operation size.</summary>
    public byte Db;
    /// <summary><c>s</c>: code/data (1) or system (0) segment.</summary>
    public byte S;
    /// <summary><c>l</c>: 64-bit code segment.</summary>
    public byte L;
    /// <summary><c>g</c>: limit in 4 KiB units.</summary>
    public byte G;
    public byte Avl;
    public byte Unusable;
    private readonly byte _padding;
}
