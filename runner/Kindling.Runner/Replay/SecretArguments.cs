using System.Text.RegularExpressions;

namespace Kindling.Runner.Replay;

/// <summary>
/// Secrets from the command line, as act takes them: <c>-s NAME=VALUE</c>; <c>-s NAME</c> reads the environment
/// variable NAME, else asks (hidden input) when there is a terminal, else fails naming it; <c>--secret-file F</c> in
/// .env format (default <c>.secrets</c> when it exists). -s wins over the file.
/// </summary>
public static partial class SecretArguments
{
    public static IReadOnlyDictionary<string, string> Resolve(IReadOnlyList<string> secretFlags, string? secretFile, bool secretFileExplicit,
        Func<string, string?> environment, IReplayPrompter prompter)
    {
        var secrets = new Dictionary<string, string>(StringComparer.Ordinal);
        if (secretFile is not null && (secretFileExplicit || File.Exists(secretFile)))
        {
            if (!File.Exists(secretFile))
            {
                throw new ReplayException($"--secret-file {secretFile} does not exist");
            }

            foreach ((string k, string v) in DotEnvFile.Load(secretFile, environment))
            {
                secrets[k] = v;
            }
        }

        foreach (string flag in secretFlags)
        {
            int eq = flag.IndexOf('=', StringComparison.Ordinal);
            string name = eq < 0 ? flag : flag[..eq];
            if (!NamePattern().IsMatch(name))
            {
                throw new ReplayException($"-s {flag}: '{name}' is not a secret name (letters, digits and _, not starting with a digit)");
            }

            if (eq >= 0)
            {
                secrets[name] = flag[(eq + 1)..];
            }
            else if (environment(name) is { } fromEnv)
            {
                secrets[name] = fromEnv;
            }
            else if (prompter.IsInteractive)
            {
                secrets[name] = prompter.AskSecret(name);
            }
            else
            {
                throw new ReplayException($"-s {name}: the environment variable {name} is not set and there is no terminal to ask on; export {name}, or pass -s {name}=VALUE or --secret-file");
            }
        }

        return secrets;
    }

    /// <summary>NAME=VALUE pairs (--var), or key:value pairs (--matrix).</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Pairs(IReadOnlyList<string> flags, char separator, string option)
    {
        List<KeyValuePair<string, string>> pairs = [];
        foreach (string f in flags)
        {
            int at = f.IndexOf(separator, StringComparison.Ordinal);
            if (at <= 0)
            {
                throw new ReplayException($"{option} {f}: expected {(separator == '=' ? "NAME=VALUE" : "key:value")}");
            }

            pairs.Add(KeyValuePair.Create(f[..at], f[(at + 1)..]));
        }

        return pairs;
    }

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex NamePattern();
}
