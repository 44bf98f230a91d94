using System.Runtime.InteropServices;

namespace Kindling.Vmm.Jail;

/// <summary>A failed system call made by the jail: names the call and carries its errno.</summary>
public sealed class JailSyscallException : Exception
{
    public JailSyscallException(string call, int errno)
        : base(errno == 0 ? call : $"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})")
    {
        Errno = errno;
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

    /// <summary>The errno the call failed with (0 when the failure carried none).</summary>
    public int Errno { get; }
}
