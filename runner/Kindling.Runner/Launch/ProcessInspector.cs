namespace Kindling.Runner.Launch;

/// <summary>Looks at (and ends) processes through /proc (Linux), with <see cref="ProcFs"/>.</summary>
public static class ProcessInspector
{
    public static bool Exists(int pid) => ProcFs.Exists(pid);

    /// <summary>True when /proc/PID/cmdline mentions <paramref name="text"/> (arguments are NUL-separated).</summary>
    public static bool CommandLineContains(int pid, string text) => ProcFs.CommandLineContains(pid, text);

    /// <summary>
    /// Live processes whose working directory is <paramref name="root"/> or below it (a VM starts in its job's work
    /// directory; a directory deleted under it still counts) and whose command line names a path below it (a VM's
    /// API socket or FIFO): what a crashed runner's jobs left running, never an operator's shell that sits in a job's
    /// directory.
    /// </summary>
    public static IReadOnlyList<int> WorkingUnder(string root)
    {
        string prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root)) + "/";
        List<int> found = [];
        foreach (int pid in ProcFs.AllPids())
        {
            try
            {
                string? cwd = new DirectoryInfo($"/proc/{pid}/cwd").LinkTarget;
                if (cwd is not null && (cwd + "/").StartsWith(prefix, StringComparison.Ordinal) && !ProcFs.IsZombie(pid) &&
                    ProcFs.CommandLineContains(pid, prefix))
                {
                    found.Add(pid);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // gone meanwhile, or not ours to look at
            }
        }

        return found;
    }

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
