using System.Runtime.InteropServices;

namespace Kindling.Vmm.Jail.Seccomp;

/// <summary>struct sock_filter (&lt;linux/filter.h&gt;): one classic BPF instruction, 8 bytes.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct SockFilter(ushort Code, byte JumpTrue, byte JumpFalse, uint K);

/// <summary>struct sock_fprog (&lt;linux/filter.h&gt;): length, then (padded) pointer to the instructions.</summary>
// SAFETY: holds a pointer to the filter's instructions; its one user (SeccompFilter.Install) sets it to a pinned array
// that outlives the seccomp call, and the kernel copies the program during that call.
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct SockFprog
{
    public ushort Length;
    public SockFilter* Filter;
}
