using System.Runtime.InteropServices;

namespace Kindling.Vmm.Interop;

/// <summary>File-descriptor syscalls and errno names from glibc (x86_64 values).</summary>
internal static partial class Libc
{
    public const string Library = "libc";

    public const int O_RDWR = 0x2;
    public const int O_CLOEXEC = 0x80000;

    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int ENXIO = 6;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int E2BIG = 7;

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>The C library's text for <paramref name="errno"/> ("Permission denied").</summary>
    public static string ErrorText(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
