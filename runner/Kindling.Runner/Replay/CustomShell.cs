using System.Text;
using System.Text.RegularExpressions;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;

namespace Kindling.Runner.Replay;

/// <summary>
/// GitHub's custom <c>shell: command [options] {0}</c>: the runner writes the script to a temporary file and runs the
/// command with the file's path in place of <c>{0}</c>. Replay does the same inside the guest with a small sh
/// wrapper (the agent runs sh), for templates made of plain words; one with quotes or other shell syntax is refused.
/// </summary>
public static partial class CustomShell
{
    private const string ScriptFileVariable = "kindling_script";

    /// <summary>Whether <paramref name="shell"/> is a template replay can run: plain words, at least one holding {0}.</summary>
    public static bool IsTemplate(string shell) =>
        shell.Contains("{0}", StringComparison.Ordinal) && PlainWords().IsMatch(shell);

    /// <summary>The sh script that writes <paramref name="script"/> to a file and runs the template on it.</summary>
    public static string Wrap(string template, string script)
    {
        string delimiter = "KINDLING_STEP_SCRIPT";
        while (script.Split('\n').Contains(delimiter, StringComparer.Ordinal))
        {
            delimiter += "_";
        }

        var command = new StringBuilder("exec");
        foreach (string word in template.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            command.Append(' ').Append(string.Join($"\"${ScriptFileVariable}\"", word.Split("{0}").Select(Quote)));
        }

        // A script holding secret values goes where the agent put it: KINDLING_STEP_TMP, a RAM filesystem (PROTOCOL.md).
        string dir = SecretPlaceholders.Any(script) ? "${KINDLING_STEP_TMP:?}" : "${RUNNER_TEMP:-/tmp}";
        return $"{ScriptFileVariable}=\"$(mktemp \"{dir}/kindling-step-XXXXXX\")\"\n" +
               $"cat > \"${ScriptFileVariable}\" <<'{delimiter}'\n{script}\n{delimiter}\n{command}";
    }

    private static string Quote(string part) => part.Length == 0 ? "" : $"'{part}'";

    [GeneratedRegex(@"^[A-Za-z0-9_./:=+,@%{}\- ]+$")]
    private static partial Regex PlainWords();
}
