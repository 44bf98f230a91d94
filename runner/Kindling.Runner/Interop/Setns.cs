using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Runner.Interop;

internal static partial class Libc
{
    /// <summary>setns(2)'s namespace type for a network namespace.</summary>
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetnsNative(SafeFileHandle fd, int nstype);

    /// <summary>Moves the calling thread (only it) into the namespace <paramref name="fd"/> refers to.</summary>
    public static void Setns(SafeFileHandle fd, int nstype)
    {
        if (SetnsNative(fd, nstype) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new IOException($"setns failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
    }
}
