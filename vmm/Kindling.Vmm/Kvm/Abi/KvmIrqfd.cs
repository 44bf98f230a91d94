using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm.Abi;

/// <summary><c>struct kvm_irqfd</c> (KVM_IRQFD).</summary>
[StructLayout(LayoutKind.Sequential)]
// SAFETY: unsafe only for the fixed-size arrays of the kernel's layout; the size and field offsets are checked against the Linux headers in the ABI layout tests, and the arrays are indexed only within their declared length.
public unsafe struct KvmIrqfd
{
    /// <summary>KVM_IRQFD_FLAG_DEASSIGN.</summary>
    public const uint FlagDeassign = 1 << 0;

    public uint Fd;
    public uint Gsi;
    public uint Flags;
    public uint ResampleFd;
    private fixed byte _pad[16];
}
