namespace Kindling.Runner.Launch;

/// <summary>
/// GitHub's command files as a step leaves them: <c>$GITHUB_OUTPUT</c> and <c>$GITHUB_ENV</c> hold <c>NAME=value</c>
/// lines and <c>NAME&lt;&lt;DELIMITER</c> … <c>DELIMITER</c> blocks; <c>$GITHUB_PATH</c> one directory a line. The
/// agent (images/guest/agent.sh, env_file/path_file) reads them the same way; the stub guest and the replay's host use this.
/// </summary>
public static class GuestCommandFiles
{
    /// <summary>The entries of an output or env file, in file order (a later entry for the same name wins when applied).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> ParseEntries(string text)
    {
        List<KeyValuePair<string, string>> entries = [];
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            if (line.Length == 0)
            {
                continue;
            }

            int eq = line.IndexOf('=', StringComparison.Ordinal);
            int heredoc = line.IndexOf("<<", StringComparison.Ordinal);
            if (eq >= 0 && (heredoc < 0 || eq < heredoc))
            {
                entries.Add(KeyValuePair.Create(line[..eq], line[(eq + 1)..]));
                continue;
            }

            if (heredoc < 0)
            {
                continue; // neither form: GitHub's runner fails the step; the agent ignores the line
            }

            string name = line[..heredoc], delimiter = line[(heredoc + 2)..];
            List<string> value = [];
            int end = i + 1;
            while (end < lines.Length && lines[end] != delimiter)
            {
                value.Add(lines[end++]);
            }

            if (end < lines.Length)
            {
                entries.Add(KeyValuePair.Create(name, string.Join('\n', value)));
            }

            i = end;
        }

        return entries;
    }

    /// <summary>The directories of a path file, in file order (each is put in front of PATH in turn).</summary>
    public static IReadOnlyList<string> ParsePath(string text) =>
        [.. text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Where(l => l.Length > 0)];
}
