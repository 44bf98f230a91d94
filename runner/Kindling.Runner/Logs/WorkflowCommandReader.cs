using System.Text;

namespace Kindling.Runner.Logs;

/// <summary>One workflow command a step printed (<c>::name key=value,key=value::value</c>), its escapes undone.</summary>
public sealed record WorkflowCommand(string Name, IReadOnlyDictionary<string, string> Properties, string Value)
{
    public const string SetOutput = "set-output";
    public const string SaveState = "save-state";
    public const string AddMask = "add-mask";
    public const string AddPath = "add-path";
    public const string SetEnv = "set-env";
    public const string StopCommands = "stop-commands";
    public const string Debug = "debug";
    public const string Notice = "notice";
    public const string Warning = "warning";
    public const string Error = "error";
    public const string Group = "group";
    public const string EndGroup = "endgroup";
    public const string Echo = "echo";

    /// <summary>The commands the runner acts on or counts; any other <c>::word::</c> line stays plain output, as on GitHub.</summary>
    public static readonly IReadOnlySet<string> Known = new HashSet<string>(StringComparer.Ordinal)
    {
        SetOutput, SaveState, AddMask, AddPath, SetEnv, StopCommands, Debug, Notice, Warning, Error, Group, EndGroup, Echo,
    };

    public string? Property(string key) => Properties.GetValueOrDefault(key);
}

/// <summary>
/// GitHub's workflow commands on a step's standard output, read line by line as the runner does
/// (actions/runner's ActionCommandManager): a line that starts with <c>::</c>, a known command name, optional
/// <c>key=value</c> properties after one space and separated by commas, then <c>::</c> and the value. Values undo
/// <c>%25 %0D %0A</c>, properties also <c>%3A %2C</c>. <c>::stop-commands::TOKEN</c> turns processing off until a
/// line <c>::TOKEN::</c>; nothing between is a command (so a step can print untrusted text safely).
/// One reader per job: the stop state lasts across lines, as on GitHub within a step, and is reset at each step's start.
/// </summary>
public sealed class WorkflowCommandReader
{
    private string? _stopToken;

    /// <summary>A new step starts: commands are processed again (stop-commands lasts for one step).</summary>
    public void StepStarted() => _stopToken = null;

    /// <summary>The command on <paramref name="line"/>, or null for output (or any line while commands are stopped).</summary>
    public WorkflowCommand? Read(string line)
    {
        if (!line.StartsWith("::", StringComparison.Ordinal))
        {
            return null;
        }

        if (_stopToken is { } token)
        {
            if (line == $"::{token}::")
            {
                _stopToken = null;
            }

            return null;
        }

        int end = line.IndexOf("::", 2, StringComparison.Ordinal);
        if (end < 0)
        {
            return null;
        }

        string head = line[2..end];
        int space = head.IndexOf(' ', StringComparison.Ordinal);
        string name = space < 0 ? head : head[..space];
        if (!WorkflowCommand.Known.Contains(name))
        {
            return null;
        }

        var properties = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (space >= 0)
        {
            foreach (string pair in head[(space + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    properties[pair[..eq].Trim()] = Unescape(pair[(eq + 1)..], property: true);
                }
            }
        }

        var command = new WorkflowCommand(name, properties, Unescape(line[(end + 2)..], property: false));
        if (name == WorkflowCommand.StopCommands && command.Value.Length > 0)
        {
            _stopToken = command.Value;
        }

        return command;
    }

    private static string Unescape(string s, bool property)
    {
        if (!s.Contains('%', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new StringBuilder(s)
            .Replace("%0D", "\r").Replace("%0A", "\n");
        if (property)
        {
            sb.Replace("%3A", ":").Replace("%2C", ",");
        }

        return sb.Replace("%25", "%").ToString();
    }
}
