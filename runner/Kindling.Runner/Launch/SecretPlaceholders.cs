using System.Text;
using System.Text.RegularExpressions;

namespace Kindling.Runner.Launch;

/// <summary>
/// Secret values in a step's script text, as GitHub puts them there (<c>echo '${{ secrets.KEY }}' &gt; key.json</c>).
/// The spec never holds a value: the host writes a placeholder per reference, naming a guest secret (a name under
/// <c>JobSpec.SecretRefs</c> or a tenant secret), and the guest agent replaces each by the secret's value when
/// the step starts, into a file on a RAM filesystem that is removed when the step ends (images/guest/PROTOCOL.md).
/// </summary>
public static partial class SecretPlaceholders
{
    /// <summary>What starts a placeholder; the planner refuses a script that holds it anywhere else.</summary>
    public const string Prefix = "%%kindling-secret:";

    public const string Suffix = "%%";

    /// <summary>What the plan and the log show in place of a value.</summary>
    public const string Shown = "***";

    /// <summary>The placeholder for the guest secret <paramref name="guestName"/>.</summary>
    public static string For(string guestName) => Prefix + guestName + Suffix;

    /// <summary>Whether the script holds a placeholder (the agent then runs it from a RAM file).</summary>
    public static bool Any(string script) => script.Contains(Prefix, StringComparison.Ordinal);

    /// <summary>The script as the plan shows it: each placeholder as <c>***</c>.</summary>
    public static string Masked(string script) => Any(script) ? Placeholder().Replace(script, Shown) : script;

    /// <summary>
    /// The script with each placeholder replaced by the value <paramref name="secret"/> gives for its name, byte for
    /// byte, as the agent does; null and the agent's message when a placeholder is malformed or names no secret.
    /// </summary>
    public static string? Substitute(string script, int step, Func<string, string?> secret, out string? error)
    {
        var sb = new StringBuilder();
        int at = 0;
        error = null;
        while (script.IndexOf(Prefix, at, StringComparison.Ordinal) is var k and >= 0)
        {
            sb.Append(script, at, k - at);
            int nameAt = k + Prefix.Length;
            int end = script.IndexOf(Suffix, nameAt, StringComparison.Ordinal);
            string name = end < 0 ? "" : script[nameAt..end];
            if (!Name().IsMatch(name))
            {
                error = $"kindling: step {step}: the script holds a malformed secret placeholder";
                return null;
            }

            if (secret(name) is not { } value)
            {
                error = $"kindling: step {step}: the script names the secret {name}, which the job document does not hold";
                return null;
            }

            sb.Append(value);
            at = end + Suffix.Length;
        }

        return sb.Append(script, at, script.Length - at).ToString();
    }

    [GeneratedRegex("%%kindling-secret:[A-Za-z_][A-Za-z0-9_]*%%")]
    private static partial Regex Placeholder();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex Name();
}
