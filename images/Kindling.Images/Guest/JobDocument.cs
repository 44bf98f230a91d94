using Kindling.Vmm.Contract;
using System.Text;
using System.Text.Json.Nodes;

namespace Kindling.Images.Guest;

/// <summary>
/// The job as one MMDS string (images/guest/PROTOCOL.md, "The job document"): the agent fetches it with one GET and
/// reads it with shell builtins only (busybox has no jq), so it is a short shell script of calls to the agent's
/// <c>doc_*</c> functions, one record a line, every value single-quoted: a value can never leave its quotes, so no
/// secret or step text can run as shell. A newline or carriage return inside a value is written <c>'"$NL"'</c> /
/// <c>'"$CR"'</c> (the agent defines both), which keeps each record on one line. NUL cannot be carried (no shell
/// variable nor environment variable can hold it) and is refused naming the field.
/// </summary>
/// <remarks>
/// The document is built from the per-key tree of <c>MmdsTree</c> (<c>{"kindling": {"job", "secrets", "github",
/// "network"}}</c>) and <see cref="Parse"/> gives that tree back, so the stub guest and tests can read it; Parse
/// accepts exactly what <see cref="Encode"/> writes and refuses anything else with the line number.
/// </remarks>
public static class JobDocument
{
    /// <summary>The MMDS key (under <c>kindling/</c>) the agent GETs.</summary>
    public const string Key = MmdsKeys.Root.Document;

    /// <summary>The MMDS folder (under <c>kindling/</c>) that holds step N's document in host-driven mode, as <c>steps/N</c>.</summary>
    public const string StepsKey = MmdsKeys.Root.Steps;

    public const string Version = "doc_version 1";
    public const string Complete = "doc_complete";

    /// <summary>The one record of a step document that ends a host-driven job.</summary>
    public const string End = "doc_end";

    private static readonly string[] JobFields = [MmdsKeys.Job.Id, MmdsKeys.Job.Name, MmdsKeys.Job.TimeoutSeconds, MmdsKeys.Job.StepCount, MmdsKeys.Job.Mode, MmdsKeys.Job.StopGraceMs, MmdsKeys.Job.User, MmdsKeys.Job.Hostname];
    private static readonly string[] StepFields =
        [MmdsKeys.Step.Name, MmdsKeys.Step.Run, MmdsKeys.Step.Shell, MmdsKeys.Step.WorkingDirectory, MmdsKeys.Step.If, MmdsKeys.Step.ContinueOnError, MmdsKeys.Step.TimeoutSeconds, MmdsKeys.Step.AddPath];
    private static readonly string[] HostFields = [MmdsKeys.Host.Clock, MmdsKeys.Host.Generation, MmdsKeys.Host.Seed];
    private static readonly string[] NetworkFields = [MmdsKeys.Network.Address, MmdsKeys.Network.Gateway, MmdsKeys.Network.Dns];

    /// <summary>What <see cref="Parse"/> puts under <c>kindling/</c> for a step document that says <see cref="End"/>.</summary>
    public const string EndKey = "end";

    /// <summary>The MMDS content for a tree: <c>{"kindling": {"document": text}}</c>.</summary>
    public static JsonObject Mmds(JsonObject tree) =>
        new() { [MmdsKeys.Kindling] = new JsonObject { [Key] = Encode(tree) } };

    /// <summary>The document for a per-key tree <c>{"kindling": {...}}</c>.</summary>
    public static string Encode(JsonObject tree)
    {
        JsonObject kindling = tree[MmdsKeys.Kindling]?.AsObject() ?? throw new ArgumentException("the MMDS tree has no kindling object", nameof(tree));
        var sb = new StringBuilder(Version).Append('\n');
        JsonObject? job = kindling[MmdsKeys.Root.Job]?.AsObject();
        foreach (string field in JobFields)
        {
            if (job?[field] is { } v)
            {
                Record(sb, $"doc_job {field}", $"job.{field}", Text(v, $"job.{field}"));
            }
        }

        Pairs(sb, "doc_secret", kindling[MmdsKeys.Root.Secrets], "secrets");
        Pairs(sb, "doc_env", job?[MmdsKeys.Job.Env], "job.env");
        foreach ((string n, JsonNode? step) in job?[MmdsKeys.Job.Steps]?.AsObject() ?? [])
        {
            AppendStep(sb, n, step!.AsObject());
        }

        foreach (string field in NetworkFields)
        {
            if (kindling[MmdsKeys.Root.Network]?[field] is { } v)
            {
                Record(sb, $"doc_network {field}", $"network.{field}", Text(v, $"network.{field}"));
            }
        }

        foreach (string field in HostFields)
        {
            if (kindling[MmdsKeys.Host.Key]?[field] is { } v)
            {
                Record(sb, $"doc_host {field}", $"host.{field}", Text(v, $"host.{field}"));
            }
        }

        if (kindling[MmdsKeys.Root.GitHub]?[MmdsKeys.GitHub.JitConfig] is { } jit)
        {
            Record(sb, "doc_github jitconfig", "github.jitconfig", Text(jit, "github.jitconfig"));
        }

        return sb.Append(Complete).Append('\n').ToString();
    }

    /// <summary>
    /// Step <paramref name="n"/>'s own document for host-driven mode: its fields and env (the shape of
    /// <c>job/steps/N</c> in the tree), or <see cref="End"/> when <paramref name="step"/> is null.
    /// </summary>
    public static string EncodeStep(int n, JsonObject? step)
    {
        var sb = new StringBuilder(Version).Append('\n');
        if (step is null)
        {
            sb.Append(End).Append('\n');
        }
        else
        {
            AppendStep(sb, n.ToString(System.Globalization.CultureInfo.InvariantCulture), step);
        }

        return sb.Append(Complete).Append('\n').ToString();
    }

    private static void AppendStep(StringBuilder sb, string n, JsonObject step)
    {
        if (n.Length == 0 || !n.All(char.IsAsciiDigit))
        {
            throw new ArgumentException($"job.steps.{n}: a step's key must be its number");
        }

        foreach (string field in StepFields)
        {
            if (step[field] is { } v)
            {
                Record(sb, $"doc_step {n} {field}", $"job.steps.{n}.{field}", Text(v, $"job.steps.{n}.{field}"));
            }
        }

        foreach ((string k, JsonNode? v) in step[MmdsKeys.Step.Env]?.AsObject() ?? [])
        {
            Record(sb, $"doc_step_env {n} {Quote(k, $"job.steps.{n}.env")}", $"job.steps.{n}.env.{k}", Text(v, $"job.steps.{n}.env.{k}"));
        }
    }

    private static void Pairs(StringBuilder sb, string function, JsonNode? map, string where)
    {
        foreach ((string k, JsonNode? v) in map?.AsObject() ?? [])
        {
            Record(sb, $"{function} {Quote(k, where)}", $"{where}.{k}", Text(v, $"{where}.{k}"));
        }
    }

    private static string Text(JsonNode? v, string where) =>
        v is JsonValue value && value.TryGetValue(out string? s) ? s : throw new ArgumentException($"{where}: every value of the job must be a string");

    private static void Record(StringBuilder sb, string head, string where, string value) =>
        sb.Append(head).Append(' ').Append(Quote(value, where)).Append('\n');

    /// <summary>
    /// <paramref name="value"/> as one shell word that stays on one line: single quotes around the text, <c>'</c>
    /// as <c>'\''</c>, newline and carriage return as <c>'"$NL"'</c> and <c>'"$CR"'</c>.
    /// </summary>
    public static string Quote(string value, string where)
    {
        if (value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{where} holds a NUL character, which no shell or environment variable can carry: remove it");
        }

        var sb = new StringBuilder("'");
        foreach (char c in value)
        {
            sb.Append(c switch
            {
                '\'' => "'\\''",
                '\n' => "'\"$NL\"'",
                '\r' => "'\"$CR\"'",
                _ => c.ToString(),
            });
        }

        return sb.Append('\'').ToString();
    }

    /// <summary>The per-key tree of a document (the inverse of <see cref="Encode"/>); a document it did not write is refused naming the line.</summary>
    public static JsonObject Parse(string document)
    {
        var job = new JsonObject();
        var kindling = new JsonObject { [MmdsKeys.Root.Job] = job };
        foreach ((int line, string[] words) in Records(document))
        {
            string Bad(string why) => throw new FormatException($"job document line {line}: {why}");
            switch (words)
            {
                case ["doc_job", var f, var v] when JobFields.Contains(f):
                    job[f] = v;
                    break;
                case ["doc_secret", var k, var v]:
                    Object(kindling, MmdsKeys.Root.Secrets)[k] = v;
                    break;
                case ["doc_env", var k, var v]:
                    Object(job, MmdsKeys.Job.Env)[k] = v;
                    break;
                case ["doc_step", var n, var f, var v] when StepFields.Contains(f) && n.All(char.IsAsciiDigit):
                    Object(Object(job, MmdsKeys.Job.Steps), n)[f] = v;
                    break;
                case ["doc_step_env", var n, var k, var v] when n.All(char.IsAsciiDigit):
                    Object(Object(Object(job, MmdsKeys.Job.Steps), n), MmdsKeys.Step.Env)[k] = v;
                    break;
                case ["doc_network", var f, var v] when NetworkFields.Contains(f):
                    Object(kindling, MmdsKeys.Root.Network)[f] = v;
                    break;
                case ["doc_host", var f, var v] when HostFields.Contains(f):
                    Object(kindling, MmdsKeys.Host.Key)[f] = v;
                    break;
                case ["doc_github", MmdsKeys.GitHub.JitConfig, var v]:
                    Object(kindling, MmdsKeys.Root.GitHub)[MmdsKeys.GitHub.JitConfig] = v;
                    break;
                case [End]:
                    kindling[EndKey] = "true";
                    break;
                default:
                    Bad($"'{words.FirstOrDefault()}' with {words.Length - 1} value(s) is not a record of a version 1 job document");
                    break;
            }
        }

        return new JsonObject { [MmdsKeys.Kindling] = kindling };
    }

    private static JsonObject Object(JsonObject parent, string key) =>
        parent[key] as JsonObject ?? (JsonObject)(parent[key] = new JsonObject());

    /// <summary>The records between the version line and the completion line, each split into words.</summary>
    private static IEnumerable<(int Line, string[] Words)> Records(string document)
    {
        string[] lines = document.Split('\n');
        if (lines.Length < 3 || lines[0] != Version || lines[^2] != Complete || lines[^1].Length != 0)
        {
            throw new FormatException($"not a complete job document: it must start with '{Version}' and end with a '{Complete}' line (truncated?)");
        }

        for (int i = 1; i < lines.Length - 2; i++)
        {
            yield return (i + 1, Words(lines[i], i + 1));
        }
    }

    /// <summary>Bare words (<c>[A-Za-z0-9_]</c>) and quoted words as <see cref="Quote"/> writes them, separated by one space.</summary>
    private static string[] Words(string line, int number)
    {
        List<string> words = [];
        int i = 0;
        while (i < line.Length)
        {
            var word = new StringBuilder();
            if (line[i] != '\'')
            {
                while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] == '_'))
                {
                    word.Append(line[i++]);
                }
            }
            else
            {
                while (i < line.Length && line[i] != ' ')
                {
                    if (line[i] == '\'')
                    {
                        int close = line.IndexOf('\'', i + 1);
                        if (close < 0)
                        {
                            throw new FormatException($"job document line {number}: unterminated quote");
                        }

                        word.Append(line, i + 1, close - i - 1);
                        i = close + 1;
                    }
                    else if (string.CompareOrdinal(line, i, "\\'", 0, 2) == 0)
                    {
                        word.Append('\'');
                        i += 2;
                    }
                    else if (string.CompareOrdinal(line, i, "\"$NL\"", 0, 5) == 0 || string.CompareOrdinal(line, i, "\"$CR\"", 0, 5) == 0)
                    {
                        word.Append(line[i + 2] == 'N' ? '\n' : '\r');
                        i += 5;
                    }
                    else
                    {
                        throw new FormatException($"job document line {number}: unexpected '{line[i]}' at column {i + 1}");
                    }
                }
            }

            if (i < line.Length && line[i] != ' ')
            {
                throw new FormatException($"job document line {number}: unexpected '{line[i]}' at column {i + 1}");
            }

            words.Add(word.ToString());
            i++;
        }

        return [.. words];
    }
}
