using System.Globalization;

namespace Kindling.Native;

/// <summary>
/// Facts about host processes read from /proc: the one reader of /proc/PID/* (the jail, its teardown, the runner's
/// VM bookkeeping and the admin page all ask here). A process that is gone reads as null, empty or false.
/// </summary>
public static class ProcFs
{
    /// <summary>True while /proc/PID exists (a zombie included).</summary>
    public static bool Exists(int pid) => pid > 0 && Directory.Exists($"/proc/{pid}");

    /// <summary>True when <paramref name="pid"/> has exited and waits to be reaped (state Z in /proc/PID/stat).</summary>
    public static bool IsZombie(int pid) => State(pid) == 'Z';

    /// <summary>True when an argument of /proc/PID/cmdline contains <paramref name="text"/>.</summary>
    public static bool CommandLineContains(int pid, string text) =>
        CommandLine(pid).Any(a => a.Contains(text, StringComparison.Ordinal));

    /// <summary>Seconds since the host booted (/proc/uptime's first field).</summary>
    public static double UptimeSeconds() =>
        double.Parse(File.ReadAllText("/proc/uptime").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>Start time (clock ticks since boot, field 22 of /proc/PID/stat); null when the pid is gone.</summary>
    public static long? StartTicks(int pid)
    {
        // fields[0] is field 3 (state); field 22 is fields[19]. A zombie counts as gone.
        string[]? fields = StatFields(pid);
        return fields is null || fields[0] == "Z" ? null : long.Parse(fields[19], CultureInfo.InvariantCulture);
    }

    /// <summary>The state letter of /proc/PID/stat (R, S, D, Z...); null when the pid is gone.</summary>
    public static char? State(int pid) => StatFields(pid) is [{ Length: > 0 } state, ..] ? state[0] : null;

    /// <summary>The fields of /proc/PID/stat from field 3 (state) on; null when the pid is gone.</summary>
    private static string[]? StatFields(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
        int close = stat.LastIndexOf(')');
        return close > 0 && close + 2 < stat.Length ? stat[(close + 2)..].Split(' ') : null;
    }

    /// <summary>True when <paramref name="pid"/> runs and is the same process that started at <paramref name="startTicks"/>.</summary>
    public static bool IsAlive(int pid, long startTicks) => pid > 0 && StartTicks(pid) == startTicks;

    /// <summary>Every pid under /proc.</summary>
    public static IEnumerable<int> AllPids()
    {
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
            {
                yield return pid;
            }
        }
    }

    /// <summary>The first child of <paramref name="pid"/> (from /proc/PID/task/PID/children); null when it has none yet.</summary>
    public static int? FirstChild(int pid)
    {
        try
        {
            string children = File.ReadAllText($"/proc/{pid}/task/{pid}/children");
            int end = children.IndexOf(' ', StringComparison.Ordinal);
            return int.TryParse(end < 0 ? children : children[..end], NumberStyles.None, CultureInfo.InvariantCulture, out int child) ? child : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Contents of /proc/PID/cgroup, or empty when the process is gone.</summary>
    public static string CgroupOf(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cgroup");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>The command line, arguments separated by NUL, or empty when gone.</summary>
    public static string[] CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    /// <summary>A field of /proc/PID/status in kB (VmRSS, RssAnon), or null.</summary>
    public static long? StatusKilobytes(int pid, string field)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
        }

        return null;
    }

    /// <summary>
    /// The descriptors open in this process (the numeric entries of /proc/self/fd), read with opendir/readdir: no
    /// managed enumeration, so the jail can call it between fork and exec; the listing's own descriptor is closed
    /// before the list is returned.
    /// </summary>
    // SAFETY: the pointers are readdir's entries, read only up to d_name's NUL before the next readdir (see the loop).
    public static unsafe List<int> OpenDescriptors()
    {
        const string directory = "/proc/self/fd";
        // struct dirent (x86_64): d_ino 8, d_off 8, d_reclen 2, d_type 1, then d_name.
        const int NameOffset = 19;
        IntPtr dir = Libc.Opendir(directory);
        if (dir == IntPtr.Zero)
        {
            throw SyscallException.Last($"opendir({directory})");
        }

        List<int> result = [];
        try
        {
            for (byte* entry = Libc.Readdir(dir); entry != null; entry = Libc.Readdir(dir))
            {
                // SAFETY: readdir returns a dirent valid until the next readdir/closedir on dir, whose d_name at
                // NameOffset is NUL-terminated; the loop reads only up to that NUL, before the next call.
                int value = 0;
                byte* name = entry + NameOffset;
                bool numeric = *name != 0;
                for (; *name != 0; name++)
                {
                    numeric &= *name is >= (byte)'0' and <= (byte)'9';
                    value = (value * 10) + (*name - '0');
                }

                if (numeric)
                {
                    result.Add(value);
                }
            }
        }
        finally
        {
            _ = Libc.Closedir(dir);
        }

        return result;
    }
}
