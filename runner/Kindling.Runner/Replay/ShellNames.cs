namespace Kindling.Runner.Replay;

/// <summary>
/// GitHub's <c>shell:</c> values mapped onto what the guest agent runs (images/guest/PROTOCOL.md: <c>sh</c> runs
/// <c>sh -e -c</c>, <c>bash</c> runs <c>bash --noprofile --norc -eo pipefail -c</c>, anything else <c>V -c</c>).
/// </summary>
public static class ShellNames
{
    public const string Sh = "sh";
    public const string Bash = "bash";
    public const string Python = "python3";
    public const string Pwsh = "pwsh";

    private static readonly Dictionary<string, string> Known = new(StringComparer.Ordinal)
    {
        ["sh"] = Sh,
        ["sh -e {0}"] = Sh,
        ["bash"] = Bash,
        ["bash -e {0}"] = Bash,
        ["bash -eo pipefail {0}"] = Bash,
        ["bash --noprofile --norc -eo pipefail {0}"] = Bash,
        ["python"] = Python,
        ["python {0}"] = Python,
        ["pwsh"] = Pwsh,
        ["pwsh -command \". '{0}'\""] = Pwsh,
    };

    /// <summary>
    /// The agent's shell for a step. Without <c>shell:</c> GitHub uses bash where it exists: so does replay on the
    /// debian image; the minimal image has only busybox sh.
    /// </summary>
    public static string ForAgent(string? shell, string image, string where)
    {
        if (shell is null)
        {
            return image == ReplayDefaults.DebianImage ? Bash : Sh;
        }

        string s = shell.Trim();
        if (Known.TryGetValue(s, out string? agent))
        {
            return agent;
        }

        if (CustomShell.IsTemplate(s))
        {
            return s; // StepPlanner runs it through CustomShell's sh wrapper
        }

        if (s is "cmd" or "powershell")
        {
            throw new ReplayException($"{where}: shell {s} is a Windows shell, not supported: replay runs Linux guests (use bash, sh, python or pwsh)");
        }

        throw new ReplayException(
            $"{where}: shell '{s}' is not supported by replay yet; use bash, sh, python, pwsh or a template of plain words with {{0}} (command [options] {{0}}; quotes and other shell syntax in it are not run)");
    }
}
