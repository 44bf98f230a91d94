using System.Runtime.InteropServices;

namespace Kindling.Runner.Interop;

/// <summary>The few libc calls the runner needs.</summary>
internal static partial class Libc
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;
    public const int ESRCH = 3;
    public const int EEXIST = 17;

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkfifoNative(string path, uint mode);

    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    /// <summary>Creates a FIFO (mode 0600: only the runner and the VMM it starts as the same user may open it).</summary>
    public static void MakeFifo(string path)
    {
        if (MkfifoNative(path, Convert.ToUInt32("600", 8)) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"mkfifo {path} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (KillNative(pid, signal) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        return errno == ESRCH
            ? false
            : throw new IOException($"kill({pid}, {signal}) failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
    }
}
