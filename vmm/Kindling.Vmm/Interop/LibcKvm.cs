using System.Runtime.InteropServices;

namespace Kindling.Vmm.Interop;

/// <summary>
/// ioctl(2), the only syscall KVM is driven through. Callers are the typed methods on
/// <see cref="Kvm.KvmSystem"/>, <see cref="Kvm.VmFd"/> and <see cref="Kvm.VcpuFd"/>; nothing else issues raw ioctls.
/// </summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
internal static unsafe partial class LibcKvm
{
    /// <summary>An ioctl whose argument is a pointer to a structure (or null).</summary>
    [LibraryImport(Libc.Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, void* argument);

    /// <summary>An ioctl whose argument is an integer passed by value.</summary>
    [LibraryImport(Libc.Library, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nuint argument);
}
