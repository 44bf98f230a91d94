using System.Runtime.InteropServices;

namespace Kindling.Native;

/// <summary>mmap(2)/munmap(2)/mprotect(2)/madvise(2) and their flag names (x86_64 values).</summary>
// SAFETY: P/Invokes that take raw pointers; every caller passes memory it owns and keeps alive for the call (pinned, stackalloc'ed, or a mapping it holds), sized to the length it passes.
public static unsafe partial class LibcMemory
{
    public const int PROT_NONE = 0x0;
    public const int PROT_READ = 0x1;
    public const int PROT_WRITE = 0x2;
    public const int PROT_EXEC = 0x4;

    public const int MAP_SHARED = 0x01;
    public const int MAP_PRIVATE = 0x02;
    public const int MAP_ANONYMOUS = 0x20;
    public const int MAP_NORESERVE = 0x4000;

    public const int MADV_DONTDUMP = 16;

    /// <summary>mmap's failure value, (void*)-1.</summary>
    public static readonly nint MapFailed = -1;

    [LibraryImport(Libc.Library, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    /// <summary>mmap of a file descriptor held by a SafeHandle (the kvm_run page of a vCPU).</summary>
    [LibraryImport(Libc.Library, EntryPoint = "mmap", SetLastError = true)]
    public static partial nint Mmap(nint address, nuint length, int protection, int flags, SafeHandle fd, long offset);

    [LibraryImport(Libc.Library, EntryPoint = "munmap", SetLastError = true)]
    public static partial int Munmap(nint address, nuint length);

    [LibraryImport(Libc.Library, EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint address, nuint length, int protection);

    [LibraryImport(Libc.Library, EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(nint address, nuint length, int advice);
}
