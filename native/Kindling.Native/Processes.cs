using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>kill(2) and setns(2): acting on other processes and namespaces.</summary>
public static class Processes
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    /// <summary>setns(2)'s namespace type for a network namespace.</summary>
    public const int CLONE_NEWNET = 0x40000000;

    /// <summary>Sends a signal; false when the process no longer exists (ESRCH).</summary>
    public static bool Kill(int pid, int signal)
    {
        if (Libc.Kill(pid, signal) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == Libc.ESRCH ? false : throw new SyscallException($"kill({pid}, {signal})", errno);
    }

    /// <summary>Moves the calling thread (only it) into the namespace <paramref name="fd"/> refers to.</summary>
    public static void EnterNamespace(SafeHandle fd, int nstype)
    {
        if (Libc.Setns(fd, nstype) != 0)
        {
            throw SyscallException.Last("setns");
        }
    }
}
