using System.Runtime.InteropServices;

namespace Kindling.Vmm.Kvm;

/// <summary>An open KVM file descriptor (system, VM or vCPU); closing it releases the kernel object.</summary>
public abstract class KvmFd : FileDescriptor
{
    protected KvmFd(int fd) : base(fd)
    {
    }

    /// <summary>Issues an ioctl with a structure argument; throws <see cref="KvmException"/> with errno on failure.</summary>
    // SAFETY: callers pass the address of a local or pinned value of the struct the request code was computed from (its sizeof), alive for the call; the kernel reads or writes at most that size.
    private protected unsafe int Ioctl(nuint request, void* argument, string what)
    {
        int result = Libc.Ioctl(this, request, argument);
        if (result < 0)
        {
            throw new KvmException(what, Marshal.GetLastPInvokeError());
        }

        return result;
    }

    /// <summary>Issues an ioctl with an integer argument; throws <see cref="KvmException"/> with errno on failure.</summary>
    private protected int Ioctl(nuint request, nuint argument, string what)
    {
        int result = Libc.Ioctl(this, request, argument);
        if (result < 0)
        {
            throw new KvmException(what, Marshal.GetLastPInvokeError());
        }

        return result;
    }
}
