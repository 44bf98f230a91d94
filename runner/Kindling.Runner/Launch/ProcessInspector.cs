namespace Kindling.Runner.Launch;

/// <summary>Looks at (and ends) processes through /proc (Linux), with <see cref="ProcFs"/>.</summary>
public static class ProcessInspector
{
    public static bool Exists(int pid) => ProcFs.Exists(pid);

    /// <summary>True when /proc/PID/cmdline mentions <paramref name="text"/> (arguments are NUL-separated).</summary>
    public static bool CommandLineContains(int pid, string text) => ProcFs.CommandLineContains(pid, text);

    /// <summary>SIGKILLs a process and waits (bounded) until it is gone or a zombie nobody of ours will reap.</summary>
    public static async Task KillAndWaitAsync(int pid, TimeSpan wait)
    {
        if (!Processes.Kill(pid, Processes.SIGKILL))
        {
            return;
        }

        DateTime until = DateTime.UtcNow + wait;
        while (DateTime.UtcNow < until && ProcFs.Exists(pid) && !ProcFs.IsZombie(pid))
        {
            await Task.Delay(10);
        }
    }
}
