namespace Kindling.Vmm.Kvm;

/// <summary>A failed KVM operation; <see cref="Errno"/> is the kernel's error (0 when no syscall failed).</summary>
public sealed class KvmException : SyscallException
{
    public KvmException(string message, int errno)
        : base(message, errno, errno == 0 ? message : $"{message}: {Libc.ErrorText(errno)} (errno {errno})")
    {
    }

    public KvmException(string message) : base(message)
    {
    }

    public KvmException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public KvmException()
    {
    }
}
