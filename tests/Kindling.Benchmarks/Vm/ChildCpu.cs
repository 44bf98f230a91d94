using System.Runtime.InteropServices;

namespace Kindling.Benchmarks.Vm;

/// <summary>
/// CPU time (user + system) of this process's reaped children and their reaped descendants, from
/// getrusage(RUSAGE_CHILDREN): the CPU a VM launch costs, which other load on a shared machine does not inflate the
/// way it inflates wall time.
/// </summary>
internal static partial class ChildCpu
{
    private const int RUSAGE_CHILDREN = -1;

    [StructLayout(LayoutKind.Sequential)]
    private struct Timeval
    {
        public long Sec;
        public long Usec;
    }

    /// <summary>struct rusage (x86-64): two timevals, then 14 longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    // SAFETY: unsafe only for the fixed tail of struct rusage (x86-64 layout); getrusage writes exactly sizeof(Rusage) into a local.
    private unsafe struct Rusage
    {
        public Timeval Utime;
        public Timeval Stime;
        public fixed long Rest[14];
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRusage(int who, out Rusage usage);

    /// <summary>Total CPU milliseconds of reaped children so far.</summary>
    public static double TotalMs()
    {
        if (GetRusage(RUSAGE_CHILDREN, out Rusage u) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return ((u.Utime.Sec + u.Stime.Sec) * 1000.0) + ((u.Utime.Usec + u.Stime.Usec) / 1000.0);
    }
}
