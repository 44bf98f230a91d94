using System.Runtime.InteropServices;

namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>struct sock_filter (&lt;linux/filter.h&gt;): one classic BPF instruction, 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct SockFilter(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

/// <summary>struct sock_fprog (&lt;linux/filter.h&gt;): length, then (padded) pointer to the instructions.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockFprog
{
    public ushort Length;
    public SockFilter* Filter;
}
