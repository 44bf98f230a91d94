using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>
/// A failed system call: names the call and carries its errno. The one way an errno travels in Kindling; the
/// specific exceptions (the jail's, KVM's) derive from it. An <see cref="IOException"/>, as .NET's own failed file
/// syscalls are.
/// </summary>
public class SyscallException : IOException
{
    /// <summary>"<paramref name="call"/> failed: Text (errno N)", or just the call when <paramref name="errno"/> is 0.</summary>
    public SyscallException(string call, int errno)
        : this(call, errno, Describe(call, errno))
    {
    }

    public SyscallException()
    {
        Call = "";
    }

    public SyscallException(string message) : base(message)
    {
        Call = message;
    }

    public SyscallException(string message, Exception innerException) : base(message, innerException)
    {
        Call = message;
    }

    /// <summary>For a derived exception whose message is worded its own way.</summary>
    protected SyscallException(string call, int errno, string message) : base(message)
    {
        Call = call;
        Errno = errno;
    }

    /// <summary>The call that failed, with what it was called on ("open /dev/net/tun").</summary>
    public string Call { get; }

    /// <summary>The errno the call failed with (0 when the failure carried none).</summary>
    public int Errno { get; }

    /// <summary>The exception for the call that just failed: errno from <see cref="Marshal.GetLastPInvokeError"/>.</summary>
    public static SyscallException Last(string call) => new(call, Marshal.GetLastPInvokeError());

    private static string Describe(string call, int errno) =>
        errno == 0 ? call : $"{call} failed: {Libc.ErrorText(errno)} (errno {errno})";
}
