using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_ioeventfd</c> (KVM_IOEVENTFD).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmIoeventfd
{
    /// <summary>KVM_IOEVENTFD_FLAG_DATAMATCH (1 &lt;&lt; kvm_ioeventfd_flag_nr_datamatch).</summary>
    public const uint FlagDatamatch = 1 << 0;
    /// <summary>KVM_IOEVENTFD_FLAG_PIO.</summary>
    public const uint FlagPio = 1 << 1;
    /// <summary>KVM_IOEVENTFD_FLAG_DEASSIGN.</summary>
    public const uint FlagDeassign = 1 << 2;

    public ulong Datamatch;
    public ulong Addr;
    public uint Len;
    public int Fd;
    public uint Flags;
    private fixed byte _pad[36];
}
