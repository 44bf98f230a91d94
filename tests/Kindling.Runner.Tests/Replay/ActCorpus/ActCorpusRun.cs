using System.Text.RegularExpressions;
using Kindling.Runner.Cli;
using YamlDotNet.RepresentationModel;

namespace Kindling.Runner.Tests.Replay.ActCorpus;

/// <summary>How <c>kindling replay -l</c> and <c>-n</c> answered one workflow file of act's corpus.</summary>
public enum CorpusOutcome
{
    /// <summary>Listed and dry-run without an error.</summary>
    Resolved,
    /// <summary>Refused with a message that is not "not supported" (an invalid workflow, or a wrong refusal).</summary>
    Refused,
    /// <summary>Refused with a clear "not supported" message.</summary>
    NotSupported,
    /// <summary>An exception escaped, or an exit code other than 0 and 2.</summary>
    Crash,
}

/// <summary>One file's run: the outcome, the first reason given, the output (for review).</summary>
public sealed record CorpusResult(string File, CorpusOutcome Outcome, string Reason, string Output);

/// <summary>
/// Runs the CLI in process over one workflow file of act's pkg/runner/testdata the way act's runner_test.go does:
/// the test's event name, its event.json, secrets, inputs and matrix where its table gives them, the corpus root as
/// the repository (local actions are ./dir/... from there) and no environment leaking in from this host.
/// </summary>
public static partial class ActCorpusRun
{
    public static async Task<CorpusResult> RunAsync(string testdata, string file, string? actionCache, CancellationToken ct)
    {
        string relative = Path.GetRelativePath(testdata, file).Replace('\\', '/');
        string dir = Path.GetDirectoryName(file)!;
        ActTestCase test = ActTestTable.For(Path.GetRelativePath(testdata, dir).Replace('\\', '/'));
        // act's tests run on node:*-bookworm-slim (bash, node): Kindling's debian image is the match; act's actor is its default.
        List<string> args = ["-W", file, "-C", testdata, "--image", "debian", "--actor", ActDefaultActor];
        if (test.EventName is { } eventName)
        {
            bool other = test.AlsoEvent is { } also && !Triggers(file, eventName) && Triggers(file, also);
            args.AddRange(["--event-name", other ? test.AlsoEvent! : eventName]);
        }

        string eventFile = Path.Combine(dir, "event.json");
        if (File.Exists(eventFile))
        {
            args.AddRange(["-e", eventFile]);
        }

        args.AddRange(test.Secrets.SelectMany(s => new[] { "-s", s }));
        args.AddRange(test.Inputs.SelectMany(s => new[] { "--input", s }));
        args.AddRange(test.Matrix.SelectMany(s => new[] { "--matrix", s }));
        args.AddRange(["--secret-file", test.SecretFile is { } sf ? Path.Combine(dir, sf) : EmptyFile()]);
        args.AddRange(["--env-file", test.EnvFile is { } ef ? Path.Combine(dir, ef) : EmptyFile()]);
        args.AddRange(["--input-file", EmptyFile()]);
        args.AddRange(LocalRepositories(testdata, dir).SelectMany(r => new[] { "--local-repository", r }));
        if (actionCache is not null)
        {
            // act's offline mode: owner/repo@ref from a local cache (tests/corpus/action-cache.sh lays one out)
            args.AddRange(["--action-cache", actionCache]);
        }

        (int listExit, string listOut, Exception? listCrash) = await InvokeAsync(testdata, [.. args, "-l"], ct);
        (int dryExit, string dryOut, Exception? dryCrash) = await InvokeAsync(testdata, [.. args, "-n"], ct);
        string output = $"$ kindling replay {string.Join(' ', args)} -l\n{listOut}\n$ ... -n (exit {dryExit})\n{dryOut}";
        output = Redact(output, testdata, actionCache);
        if ((listCrash ?? dryCrash) is { } crash)
        {
            return new CorpusResult(relative, CorpusOutcome.Crash, crash.GetType().Name + ": " + crash.Message, output);
        }

        if (listExit is not (0 or ReplaySession.ExitUsage) || dryExit is not (0 or ReplaySession.ExitUsage))
        {
            return new CorpusResult(relative, CorpusOutcome.Crash, $"exit {listExit}/{dryExit}", output);
        }

        // A dry run that resolves but marks a step or a job "not supported" (a Docker action, a job container whose
        // steps would run in the VM instead) is not a faithful replay: it counts as not supported.
        string text = Redact(listExit != 0 ? listOut : dryOut, testdata, actionCache);
        bool unsupported = text.Contains("not supported", StringComparison.OrdinalIgnoreCase);
        if (listExit == 0 && dryExit == 0 && !unsupported)
        {
            return new CorpusResult(relative, CorpusOutcome.Resolved, "", output);
        }

        return new CorpusResult(relative, unsupported ? CorpusOutcome.NotSupported : CorpusOutcome.Refused, Reason(text), output);
    }

    /// <summary>act's Config.Actor default (cmd/root.go: -a, default "nektos/act"), which act's tests run with.</summary>
    public const string ActDefaultActor = "nektos/act";

    /// <summary>
    /// A test's config/config.yml <c>local-repositories:</c> (runner_test.go's TestConfig) as --local-repository values:
    /// act reads the paths relative to its pkg/runner, so <c>testdata/...</c> is taken from the extracted corpus.
    /// </summary>
    public static IEnumerable<string> LocalRepositories(string testdata, string testDirectory)
    {
        string config = Path.Combine(testDirectory, "config", "config.yml");
        if (!File.Exists(config))
        {
            return [];
        }

        var yaml = new YamlStream();
        using (var reader = new StringReader(File.ReadAllText(config)))
        {
            yaml.Load(reader);
        }

        if (yaml.Documents.Count == 0 || yaml.Documents[0].RootNode is not YamlMappingNode root
            || !root.Children.TryGetValue(new YamlScalarNode("local-repositories"), out var node)
            || node is not YamlMappingNode map)
        {
            return [];
        }

        return map.Children.Select(kv =>
        {
            string path = ((YamlScalarNode)kv.Value).Value ?? "";
            path = path.StartsWith("testdata/", StringComparison.Ordinal) ? Path.Combine(testdata, path["testdata/".Length..]) : Path.Combine(testdata, "..", path);
            return $"{((YamlScalarNode)kv.Key).Value}={path}";
        }).ToList();
    }

    private static string Redact(string text, string testdata, string? actionCache)
    {
        text = actionCache is null ? text : text.Replace(actionCache, "<action-cache>", StringComparison.Ordinal);
        return text.Replace(testdata, "<testdata>", StringComparison.Ordinal);
    }

    private static bool Triggers(string file, string eventName) =>
        Kindling.Runner.Replay.Workflows.WorkflowParser.ParseFile(file, Path.GetFileName(file)).Events.Contains(eventName, StringComparer.Ordinal);

    /// <summary>The first "not supported" line, else the first error line: what the user is told.</summary>
    private static string Reason(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        string line = lines.FirstOrDefault(l => l.Contains("not supported", StringComparison.OrdinalIgnoreCase))
                      ?? lines.FirstOrDefault(l => l.StartsWith("kindling replay:", StringComparison.Ordinal) || l.Contains("cannot be replayed", StringComparison.Ordinal))
                      ?? lines.FirstOrDefault() ?? "";
        return line;
    }

    /// <summary>The reason with names and quoted values taken out, so that equal reasons group together.</summary>
    public static string Family(string reason)
    {
        string r = JobPrefix().Replace(reason, "");
        r = Quoted().Replace(r, "…");
        return r.Length > 140 ? r[..140] : r;
    }

    private static async Task<(int Exit, string Output, Exception? Crash)> InvokeAsync(string cwd, string[] args, CancellationToken ct)
    {
        using var output = new StringWriter();
        var io = new ReplayConsole { Out = output, Error = output, CurrentDirectory = cwd, Environment = _ => null };
        try
        {
            int exit = await ReplayCommand.Build(io).Parse(args).InvokeAsync(cancellationToken: ct);
            return (exit, output.ToString(), null);
        }
#pragma warning disable CA1031 // a crash is what the harness counts
        catch (Exception e)
#pragma warning restore CA1031
        {
            return (-1, output.ToString(), e);
        }
    }

    private static string EmptyFile()
    {
        string path = Path.Combine(Path.GetTempPath(), "kindling-act-corpus-empty.env");
        if (!File.Exists(path))
        {
            File.WriteAllText(path, "");
        }

        return path;
    }

    [GeneratedRegex(@"^(warning: skipped |job [^:]+: cannot be replayed: |kindling replay: )")]
    private static partial Regex JobPrefix();

    [GeneratedRegex(@"'[^']*'|""[^""]*""|`[^`]*`")]
    private static partial Regex Quoted();
}
