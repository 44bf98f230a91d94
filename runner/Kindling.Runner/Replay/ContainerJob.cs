using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// A job's <c>container:</c> resolved for replay, the way act's <c>-P</c> platform mapping treats a runner image: the
/// job already runs in a throw-away microVM of its own, and replay pulls no images, so the steps run in the
/// microVM of a Kindling image (the replay's <c>--image</c>, or the one <c>--container-image NAME=FLAVOUR</c> names)
/// in the container image's place. What GitHub does for a container job whatever the image holds is applied:
/// <c>container.env</c> under the workflow's and job's env, <c>sh</c> as the default shell, <c>--user</c>,
/// <c>--hostname</c> and <c>-e</c> of <c>options</c>, and credentials that must be given in full.
/// </summary>
public sealed partial record ContainerJob
{
    /// <summary>The container image the workflow names (not pulled).</summary>
    public required string Image { get; init; }
    /// <summary>The Kindling image flavour the job runs in instead.</summary>
    public required string Flavour { get; init; }
    /// <summary><c>container.env</c> then <c>-e</c> of options (the later wins), below the workflow's and job's env.</summary>
    public IReadOnlyList<KeyValuePair<string, ExprValue>> Env { get; init; } = [];
    /// <summary><c>--user</c>: NAME, UID, NAME:GROUP or UID:GID; null: root, as in an image without USER.</summary>
    public string? User { get; init; }
    /// <summary><c>--hostname</c>, else a name generated for the job (as docker's container id, never the host's).</summary>
    public required string Hostname { get; init; }
    /// <summary>Why the job fails at set-up (before any step), as GitHub's "Initialize containers" would; null: it does not.</summary>
    public string? SetupError { get; init; }
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The plan's one line about where the steps run.</summary>
    public string Note => $"container: {Image} is not pulled: the job runs in a microVM of the Kindling {Flavour} image in its place" +
                          (User is null ? "" : $", steps as user {User}") + $", hostname {Hostname} (--container-image {Image}=FLAVOUR picks the image)";

    /// <summary>The container of <paramref name="job"/> at <paramref name="ctx"/> (matrix known); null when it has none or its image is empty (GitHub then runs the job on the runner).</summary>
    public static ContainerJob? Resolve(WorkflowJob job, ExprContext ctx, ReplayInputs inputs, string identity)
    {
        if (job.Container is not { } c)
        {
            return null;
        }

        string where = ctx.Where;
        ExprContext At(string field) => ctx with { Where = $"{where}: container.{field}" };
        string image = Plain(Template.Evaluate(c.Image, At("image")), $"{where}: container.image").Trim();
        if (image.Length == 0)
        {
            return null;
        }

        List<string> warnings = [];
        var env = new List<KeyValuePair<string, ExprValue>>();
        foreach ((string k, string v) in c.Env)
        {
            Set(env, k, Template.Evaluate(v, At($"env.{k}")));
        }

        string? user = null;
        string? hostname = null;
        List<string> ignored = [];
        if (c.Options is { } optionsTemplate)
        {
            string options = Plain(Template.Evaluate(optionsTemplate, At("options")), $"{where}: container.options");
            IReadOnlyList<string> words = Words(options, $"{where}: container.options");
            for (int i = 0; i < words.Count; i++)
            {
                string word = words[i];
                (string name, string? inline) = word.StartsWith("--", StringComparison.Ordinal) && word.IndexOf('=', StringComparison.Ordinal) is > 2 and var eq
                    ? (word[..eq], word[(eq + 1)..])
                    : (word, null);
                string Value() => inline ?? (i + 1 < words.Count ? words[++i]
                    : throw new ReplayException($"{where}: container.options: {name} needs a value"));
                switch (name)
                {
                    case "--user" or "-u":
                        user = Value();
                        if (!UserPattern().IsMatch(user))
                        {
                            throw new ReplayException($"{where}: container.options: --user '{user}' is not NAME, UID, NAME:GROUP or UID:GID");
                        }

                        break;
                    case "--hostname" or "-h":
                        hostname = Value();
                        if (!HostnamePattern().IsMatch(hostname))
                        {
                            throw new ReplayException($"{where}: container.options: --hostname '{hostname}' is not a host name (letters, digits, '-' and '.', at most 64)");
                        }

                        break;
                    case "--env" or "-e":
                        string pair = Value();
                        int at = pair.IndexOf('=', StringComparison.Ordinal);
                        if (at <= 0)
                        {
                            warnings.Add($"container.options: {name} {pair} (a value from the host's environment) is ignored: write {pair}=VALUE or use container.env");
                            break;
                        }

                        Set(env, pair[..at], ExprValue.String(pair[(at + 1)..]));
                        break;
                    default:
                        if (word.StartsWith('-'))
                        {
                            ignored.Add(name);
                        }

                        break;
                }
            }
        }

        if (ignored.Count > 0)
        {
            warnings.Add($"container.options: {string.Join(", ", ignored)} {(ignored.Count > 1 ? "are" : "is")} ignored (docker options; " +
                         "replay applies --user, --hostname and -e/--env, and the microVM has the resources of replay's VMs)");
        }

        if (c.Ports.Count > 0)
        {
            warnings.Add($"container.ports: {string.Join(", ", c.Ports)} {(c.Ports.Count > 1 ? "are" : "is")} ignored (no service reaches the job's microVM through them)");
        }

        if (c.Volumes.Count > 0)
        {
            warnings.Add($"container.volumes: {string.Join(", ", c.Volumes)} {(c.Volumes.Count > 1 ? "are" : "is")} ignored (the microVM mounts only its workspace)");
        }

        string? setupError = null;
        if (c.Credentials is { } credentials)
        {
            // GitHub's runner (and act) refuse credentials without both parts before the job's first step; a secret is
            // fine (replay pulls nothing, so it is never sent anywhere).
            string? Missing(string? template, string field) =>
                template is null ? $"container.credentials.{field} is missing"
                : Template.Evaluate(template, At($"credentials.{field}")).ToString().Length == 0 ? $"container.credentials.{field} is empty"
                : null;
            if ((Missing(credentials.Username, "username") ?? Missing(credentials.Password, "password")) is { } why)
            {
                setupError = $"failed to handle credentials: {why} (pulling {image} needs both username and password)";
            }
        }

        string flavour = inputs.ContainerImages.FirstOrDefault(kv => kv.Key == image).Value ?? inputs.Image;
        return new ContainerJob
        {
            Image = image, Flavour = flavour, Env = env, User = user, Hostname = hostname ?? GeneratedHostname(identity),
            SetupError = setupError, Warnings = warnings,
        };
    }

    /// <summary>Twelve hex digits from the job's identity (workflow, job, matrix): as docker names a container, stable across replays.</summary>
    private static string GeneratedHostname(string identity) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(identity)))[..12];

    private static string Plain(ExprValue v, string where) =>
        v.IsSecret ? throw new ReplayException($"{where}: a secret cannot be used here") : v.ToString();

    private static void Set(List<KeyValuePair<string, ExprValue>> env, string key, ExprValue value)
    {
        env.RemoveAll(kv => kv.Key == key);
        env.Add(KeyValuePair.Create(key, value));
    }

    /// <summary>The options split as a shell would split plain words and simple quotes (docker's runner does the same).</summary>
    internal static IReadOnlyList<string> Words(string text, string where)
    {
        List<string> words = [];
        var current = new StringBuilder();
        bool inWord = false;
        char quote = '\0';
        foreach (char ch in text)
        {
            if (quote != '\0')
            {
                if (ch == quote)
                {
                    quote = '\0';
                }
                else
                {
                    current.Append(ch);
                }
            }
            else if (ch is '\'' or '"')
            {
                quote = ch;
                inWord = true;
            }
            else if (char.IsWhiteSpace(ch))
            {
                if (inWord)
                {
                    words.Add(current.ToString());
                    current.Clear();
                    inWord = false;
                }
            }
            else
            {
                current.Append(ch);
                inWord = true;
            }
        }

        if (quote != '\0')
        {
            throw new ReplayException($"{where}: a {quote} quote is not closed");
        }

        if (inWord)
        {
            words.Add(current.ToString());
        }

        return words;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")]
    private static partial Regex UserPattern();

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9.-]{0,62}[A-Za-z0-9])?$")]
    private static partial Regex HostnamePattern();
}
