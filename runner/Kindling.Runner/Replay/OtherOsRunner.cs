using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// A job whose <c>runs-on</c> names a macOS or Windows runner. Replay runs Linux microVMs only: a job whose
/// <c>run:</c> steps are portable (bash, sh or python, given or by default: bash is macOS's default shell, and a
/// Windows job's steps must say so since its default is pwsh) still runs, with a warning that says where; a job with
/// PowerShell or cmd steps is reported as not supported, since its steps would run wrongly.
/// </summary>
internal static class OtherOsRunner
{
    /// <summary>"macOS" or "Windows" for such a label, else null.</summary>
    public static string? Os(string label) =>
        label.StartsWith("windows", StringComparison.OrdinalIgnoreCase) ? "Windows"
        : label.StartsWith("macos", StringComparison.OrdinalIgnoreCase) ? "macOS"
        : null;

    /// <summary>The warning for a job that runs on <paramref name="label"/> (<see cref="Os"/> not null).</summary>
    public static string Warning(string label, Workflow wf, WorkflowJob job, string image)
    {
        string os = Os(label)!;
        List<int> other = [.. job.Steps.Where(s => s.Run is not null && !Portable(Shell(wf, job, s), os)).Select(s => s.Number)];
        return other.Count == 0
            ? $"runs-on: {label} names a {os} runner: replay runs the job in a Linux microVM (the Kindling {image} image) instead; " +
              $"its run: steps use bash, sh or python, so they run as written, but {os}-only tools and paths are missing"
            : $"runs-on: {label} names a {os} runner, which is not supported: replay runs Linux microVMs only, and step{(other.Count > 1 ? "s" : "")} " +
              $"{string.Join(", ", other)} use{(other.Count > 1 ? "" : "s")} {(os == "Windows" ? "PowerShell or cmd (a Windows job's default shell is pwsh)" : "a shell other than bash, sh or python")}";
    }

    private static string? Shell(Workflow wf, WorkflowJob job, WorkflowStep s) => s.Shell ?? job.Defaults.Shell ?? wf.Defaults.Shell;

    private static bool Portable(string? shell, string os)
    {
        if (shell is null)
        {
            return os == "macOS"; // GitHub's default: bash on macOS, pwsh on Windows
        }

        string first = shell.Trim().Split(' ')[0];
        return first is "bash" or "sh" or "python";
    }
}
