using System.Diagnostics;

namespace Kindling.Runner.Launch;

/// <summary>
/// Starts a VM process whose standard streams are not the runner's: stdin is /dev/null, stdout is opened
/// read-write on a given path (a FIFO opened so never blocks, and never breaks when its reader goes away) and stderr
/// is appended to a file. A VM outlives a crashed runner by design (the reaper finds it after the restart), so it
/// must not hold the runner's own stdout/stderr — those are often pipes to a supervisor, and a supervisor waiting
/// for end of file on them would wait for every VM the dead runner left behind; and its output must not depend on
/// a runner thread copying it (that thread dies with the runner, and the VM would then write into a broken pipe).
/// </summary>
/// <remarks>
/// .NET's <see cref="Process"/> can only inherit or pipe the standard streams, so the redirection is done by
/// <c>/bin/sh</c>, which then <c>exec</c>s the program: the pid, the command line (<c>/proc/PID/cmdline</c>, which
/// the reaper checks) and the exit status are the program's own.
/// </remarks>
public static class DetachedProcess
{
    private const string Shell = "/bin/sh";
    private const string Script = "out=$1; err=$2; shift 2; exec \"$@\" </dev/null 1<>\"$out\" 2>>\"$err\"";

    /// <summary>Starts <paramref name="program"/> (an absolute path, or a name found on PATH).</summary>
    /// <exception cref="FileNotFoundException">The program does not exist (the message names it).</exception>
    public static Process Start(string program, IEnumerable<string> arguments, string workingDirectory, string stdoutPath, string stderrPath)
    {
        string resolved = Resolve(program) ?? throw new FileNotFoundException($"{program} was not found (not a file, and not on PATH)", program);
        var psi = new ProcessStartInfo(Shell,
            ["-c", Script, "kindling-spawn", Path.GetFullPath(stdoutPath, workingDirectory), Path.GetFullPath(stderrPath, workingDirectory), resolved, .. arguments])
        {
            UseShellExecute = false, WorkingDirectory = workingDirectory,
        };
        return Process.Start(psi) ?? throw new InvalidOperationException($"{Shell} did not start");
    }

    /// <summary>The program's path: itself when it names a file, else the first match on PATH; null when none.</summary>
    public static string? Resolve(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? Path.GetFullPath(program) : null;
        }

        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The last non-empty line of a process's output file (its one-line failure reason), or null.</summary>
    public static string? LastLine(string outputPath)
    {
        try
        {
            return File.ReadLines(outputPath).LastOrDefault(l => l.Trim().Length > 0)?.Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
