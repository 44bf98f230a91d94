using System.Text;
using System.Text.RegularExpressions;

namespace Kindling.Runner.Replay;

/// <summary>
/// .env files as act reads them (godotenv's format) for --secret-file and --env-file: <c>NAME=value</c> or
/// <c>NAME: value</c>, optional <c>export</c>, <c>#</c> comments (a <c>#</c> after a space ends an unquoted value),
/// 'single quotes' taken literally, "double quotes" with \n \t \" \\ \$ escapes; both may span lines; <c>${NAME}</c>
/// and <c>$NAME</c> in unquoted and double-quoted values expand earlier entries, then the environment.
/// </summary>
public static partial class DotEnvFile
{
    public static IReadOnlyList<KeyValuePair<string, string>> Load(string path, Func<string, string?>? environment = null)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ReplayException($"cannot read {path}: {e.Message}");
        }

        return Parse(text, path, environment ?? Environment.GetEnvironmentVariable);
    }

    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string text, string file, Func<string, string?> environment)
    {
        var entries = new List<KeyValuePair<string, string>>();
        string[] lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            int lineNumber = i + 1;
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line["export ".Length..].TrimStart();
            }

            Match m = EntryPattern().Match(line);
            if (!m.Success)
            {
                throw new ReplayException($"{file}:{lineNumber}: expected NAME=value (names are letters, digits and _, not starting with a digit), not '{Excerpt(line)}'");
            }

            string name = m.Groups["name"].Value;
            string rest = m.Groups["rest"].Value.TrimStart();
            string value;
            if (rest.StartsWith('\'') || rest.StartsWith('"'))
            {
                char quote = rest[0];
                var sb = new StringBuilder();
                string current = rest[1..];
                int startLine = lineNumber;
                while (true)
                {
                    int close = FindClosingQuote(current, quote);
                    if (close >= 0)
                    {
                        sb.Append(current[..close]);
                        string after = current[(close + 1)..].Trim();
                        if (after.Length > 0 && !after.StartsWith('#'))
                        {
                            throw new ReplayException($"{file}:{lineNumber}: unexpected '{Excerpt(after)}' after the closing {quote} of {name}");
                        }

                        break;
                    }

                    sb.Append(current).Append('\n');
                    if (++i >= lines.Length)
                    {
                        throw new ReplayException($"{file}:{startLine}: the {quote}quoted{quote} value of {name} is not closed");
                    }

                    lineNumber = i + 1;
                    current = lines[i];
                }

                value = quote == '"' ? Expand(Unescape(sb.ToString()), entries, environment) : sb.ToString();
            }
            else
            {
                int comment = rest.IndexOf(" #", StringComparison.Ordinal);
                value = Expand((comment >= 0 ? rest[..comment] : rest).Trim(), entries, environment);
            }

            entries.RemoveAll(e => e.Key == name);
            entries.Add(KeyValuePair.Create(name, value));
        }

        return entries;
    }

    private static int FindClosingQuote(string s, char quote)
    {
        for (int i = 0; i < s.Length; i++)
        {
            if (quote == '"' && s[i] == '\\')
            {
                i++;
            }
            else if (s[i] == quote)
            {
                return i;
            }
        }

        return -1;
    }

    private static string Unescape(string s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                char c = s[++i];
                sb.Append(c switch { 'n' => "\n", 'r' => "\r", 't' => "\t", '$' => "\\$", _ => c.ToString() });
            }
            else
            {
                sb.Append(s[i]);
            }
        }

        return sb.ToString();
    }

    /// <summary>${NAME} and $NAME from earlier entries, else the environment, else empty; \$ is a literal dollar.</summary>
    private static string Expand(string s, List<KeyValuePair<string, string>> earlier, Func<string, string?> environment) =>
        VariablePattern().Replace(s, m =>
        {
            if (m.Value.StartsWith('\\'))
            {
                return m.Value[1..];
            }

            string name = m.Groups["braced"].Success ? m.Groups["braced"].Value : m.Groups["bare"].Value;
            int at = earlier.FindLastIndex(e => e.Key == name);
            return at >= 0 ? earlier[at].Value : environment(name) ?? "";
        });

    private static string Excerpt(string s)
    {
        const int ExcerptLength = 40;
        return s.Length > ExcerptLength ? s[..ExcerptLength] + "…" : s;
    }

    [GeneratedRegex(@"^(?<name>[A-Za-z_][A-Za-z0-9_]*)\s*(=|:\s)(?<rest>.*)$|^(?<name>[A-Za-z_][A-Za-z0-9_]*)\s*[=:]$")]
    private static partial Regex EntryPattern();

    [GeneratedRegex(@"\\\$|\$\{(?<braced>[A-Za-z_][A-Za-z0-9_]*)\}|\$(?<bare>[A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex VariablePattern();
}
