using System.Text;

namespace Kindling.Runner.Replay;

/// <summary>One workflow command a step printed: <c>::name key=value,...::data</c>, its escapes decoded.</summary>
public sealed record WorkflowCommand(string Name, IReadOnlyDictionary<string, string> Properties, string Data);

/// <summary>
/// GitHub's workflow commands on a step's standard output (the older way to set outputs, env, PATH, state and masks),
/// read line by line as the runner does: <c>::set-output name=x::v</c>, <c>::save-state name=x::v</c>,
/// <c>::add-mask::v</c>, and <c>::set-env name=x::v</c> / <c>::add-path::dir</c>, which GitHub refuses unless the
/// step's environment has <c>ACTIONS_ALLOW_UNSECURE_COMMANDS=true</c>. <c>::stop-commands::TOKEN</c> stops the
/// processing until a line <c>::TOKEN::</c>. The effects gather here; the caller applies them after the step (outputs
/// to <c>steps.&lt;id&gt;.outputs</c>, env to later steps, state to the post step as <c>STATE_x</c>).
/// </summary>
public sealed class WorkflowCommands(bool allowUnsecureCommands)
{
    private string? _stopToken;

    public Dictionary<string, string> Outputs { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> State { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, string> Env { get; } = new(StringComparer.Ordinal);
    public List<string> Path { get; } = [];
    public List<string> Masks { get; } = [];
    /// <summary>What the user is told about commands refused or malformed (GitHub prints these as errors and fails set-env).</summary>
    public List<string> Errors { get; } = [];

    /// <summary>Whether <paramref name="env"/> (a step's environment) allows ::set-env and ::add-path, as GitHub reads it.</summary>
    public static bool AllowsUnsecure(IReadOnlyDictionary<string, string> env) =>
        env.TryGetValue("ACTIONS_ALLOW_UNSECURE_COMMANDS", out string? v) && v.Trim().Equals("true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Reads one line of the step's standard output; returns the command it held (null: an ordinary line).</summary>
    public WorkflowCommand? Process(string line)
    {
        WorkflowCommand? c = Parse(line);
        if (c is null)
        {
            return null;
        }

        if (_stopToken is not null)
        {
            if (c.Name == _stopToken && c.Properties.Count == 0)
            {
                _stopToken = null;
            }

            return null;
        }

        switch (c.Name)
        {
            case "stop-commands":
                if (c.Data.Length == 0)
                {
                    Errors.Add("::stop-commands:: needs a token (::stop-commands::TOKEN, resumed by ::TOKEN::)");
                }
                else
                {
                    _stopToken = c.Data;
                }

                break;
            case "set-output":
                Named(c, Outputs);
                break;
            case "save-state":
                Named(c, State);
                break;
            case "add-mask":
                if (c.Data.Trim().Length > 0)
                {
                    Masks.Add(c.Data.Trim());
                }

                break;
            case "set-env" when !allowUnsecureCommands:
            case "add-path" when !allowUnsecureCommands:
                Errors.Add($"the `{c.Name}` command is disabled: use the $GITHUB_{(c.Name == "set-env" ? "ENV" : "PATH")} file, " +
                           "or set ACTIONS_ALLOW_UNSECURE_COMMANDS=true in the step's env");
                break;
            case "set-env":
                Named(c, Env);
                break;
            case "add-path":
                Path.Add(c.Data);
                break;
        }

        return c;
    }

    private void Named(WorkflowCommand c, Dictionary<string, string> into)
    {
        if (c.Properties.TryGetValue("name", out string? name) && name.Length > 0)
        {
            into[name] = c.Data;
        }
        else
        {
            Errors.Add($"::{c.Name}:: needs a name (::{c.Name} name=NAME::VALUE)");
        }
    }

    /// <summary>The command a line holds (<c>::name[ k=v,...]::data</c>, leading blanks allowed), or null.</summary>
    public static WorkflowCommand? Parse(string line)
    {
        string l = line.TrimEnd('\r').TrimStart();
        if (!l.StartsWith("::", StringComparison.Ordinal))
        {
            return null;
        }

        int end = l.IndexOf("::", 2, StringComparison.Ordinal);
        if (end < 0)
        {
            return null;
        }

        string head = l[2..end];
        string data = l[(end + 2)..];
        int space = head.IndexOf(' ', StringComparison.Ordinal);
        string name = space < 0 ? head : head[..space];
        if (name.Length == 0)
        {
            return null;
        }

        var props = new Dictionary<string, string>(StringComparer.Ordinal);
        if (space >= 0)
        {
            foreach (string pair in head[(space + 1)..].Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                int eq = pair.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    props[pair[..eq].Trim()] = Unescape(pair[(eq + 1)..], property: true);
                }
            }
        }

        return new WorkflowCommand(name, props, Unescape(data, property: false));
    }

    /// <summary>GitHub's escapes: %25 %0D %0A in data; %3A and %2C too in property values.</summary>
    private static string Unescape(string s, bool property)
    {
        if (!s.Contains('%', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new StringBuilder(s);
        sb.Replace("%0D", "\r").Replace("%0A", "\n");
        if (property)
        {
            sb.Replace("%3A", ":").Replace("%2C", ",");
        }

        return sb.Replace("%25", "%").ToString();
    }
}
