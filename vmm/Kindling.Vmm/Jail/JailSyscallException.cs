namespace Kindling.Vmm.Jail;

/// <summary>A failed system call made by the jail: names the call and carries its errno.</summary>
public sealed class JailSyscallException : SyscallException
{
    public JailSyscallException(string call, int errno) : base(call, errno)
    {
    }

    public JailSyscallException()
    {
    }

    public JailSyscallException(string message) : base(message)
    {
    }

    public JailSyscallException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
