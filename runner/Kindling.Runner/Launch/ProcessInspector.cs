using System.Text;
using Kindling.Runner.Interop;

namespace Kindling.Runner.Launch;

/// <summary>Looks at processes through /proc (Linux).</summary>
public static class ProcessInspector
{
    public static bool Exists(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>True when /proc/PID/cmdline mentions <paramref name="text"/> (arguments are NUL-separated).</summary>
    public static bool CommandLineContains(int pid, string text)
    {
        try
        {
            byte[] raw = File.ReadAllBytes($"/proc/{pid}/cmdline");
            return Encoding.UTF8.GetString(raw).Split('\0').Any(a => a.Contains(text, StringComparison.Ordinal));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>SIGKILLs a process and waits (bounded) until it is gone or a zombie nobody of ours will reap.</summary>
    public static async Task KillAndWaitAsync(int pid, TimeSpan wait)
    {
        if (!Libc.Kill(pid, Libc.SIGKILL))
        {
            return;
        }

        DateTime until = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < until && Exists(pid) && !IsZombie(pid))
        {
            await Task.Delay(10);
        }
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            int close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }
}
