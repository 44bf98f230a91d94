using System.Globalization;

namespace Kindling.Vmm.Jail;

/// <summary>Facts about host processes read from /proc.</summary>
public static class ProcessInfo
{
    /// <summary>Start time (clock ticks since boot, field 22 of /proc/PID/stat); null when the pid is gone.</summary>
    public static long? StartTicks(int pid)
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
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state); field 22 is fields[19]. A zombie counts as gone.
        return fields[0] == "Z" ? null : long.Parse(fields[19], CultureInfo.InvariantCulture);
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}
