using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Kvm;

/// <summary>A failed KVM operation; <see cref="Errno"/> is the kernel's error (0 when no syscall failed).</summary>
public sealed class KvmException : Exception
{
    public KvmException(string message, int errno) : base(errno == 0 ? message : $"{message}: {Libc.ErrorText(errno)} (errno {errno})") =>
        Errno = errno;

    public KvmException(string message) : base(message)
    {
    }

    public KvmException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public KvmException()
    {
    }

    public int Errno { get; }
}
