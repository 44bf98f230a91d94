using System.Runtime.InteropServices;

namespace Kindling.Vmm.Tests.Logging;

internal static partial class Fifo
{
    private const uint Mode = 0x180; // 0600

    public static string Create(string dir, string name)
    {
        string path = Path.Combine(dir, name);
        if (MkFifo(path, Mode) != 0)
        {
            throw new IOException($"mkfifo {path} failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return path;
    }

    [LibraryImport("libc", EntryPoint = "mkfifo", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkFifo(string path, uint mode);
}
