using System.Text;

namespace Kindling.Runner.Tests.Replay.ActCorpus;

/// <summary>
/// <c>kindling replay -l/-n</c> over nektos/act's own test workflows (pkg/runner/testdata, MIT; never copied into
/// this tree). Runs only where KINDLING_ACT_CORPUS names that directory: tests/corpus/act-corpus.sh extracts it from
/// a clone and runs this test. Writes a report (counts, reasons by frequency, each file's output) to
/// KINDLING_ACT_CORPUS_REPORT (default artifacts/act-corpus) and holds the line: no crash, nothing wrong, at least
/// <see cref="CorrectFloor"/> correct.
/// </summary>
public sealed class ActCorpusTests
{
    public const string CorpusVariable = "KINDLING_ACT_CORPUS";
    public const string ReportVariable = "KINDLING_ACT_CORPUS_REPORT";
    /// <summary>An action cache (act's offline layout) for the remote actions the corpus uses; unset: none.</summary>
    public const string ActionCacheVariable = "KINDLING_ACT_CORPUS_ACTIONS";
    /// <summary>Only the files whose path contains this text (a quick look; the floor is then not checked).</summary>
    public const string OnlyVariable = "KINDLING_ACT_CORPUS_ONLY";

    /// <summary>
    /// Correct answers measured at the last change with an action cache (tests/corpus/act-corpus.sh --mirrors over mirrors of
    /// actions/checkout, github-script, setup-node, setup-python, hello-world-javascript-action, hello-world-docker-action,
    /// nektos/act-test-actions, cloudposse/actions, sergioramos/yarn-actions, engineerd/setup-kind, denoland/setup-deno);
    /// raise it as the resolver learns more.
    /// </summary>
    public const int CorrectFloor = 93;

    /// <summary>The same without an action cache (remote actions are then not supported).</summary>
    public const int CorrectFloorWithoutActionCache = 77;

    [Fact]
    public async Task ReplayDryRun_ActCorpus_NoCrashNothingWrong()
    {
        string? testdata = Environment.GetEnvironmentVariable(CorpusVariable);
        if (string.IsNullOrEmpty(testdata) || !Directory.Exists(testdata))
        {
            Assert.Skip($"{CorpusVariable} does not name act's pkg/runner/testdata (tests/corpus/act-corpus.sh sets it)");
        }

        testdata = Path.GetFullPath(testdata).TrimEnd('/');
        string? cache = Environment.GetEnvironmentVariable(ActionCacheVariable) is { Length: > 0 } c ? Path.GetFullPath(c).TrimEnd('/') : null;
        string only = Environment.GetEnvironmentVariable(OnlyVariable) ?? "";
        List<CorpusResult> results = [];
        foreach (string file in WorkflowFiles(testdata).Where(f => f.Contains(only, StringComparison.Ordinal)))
        {
            results.Add(await ActCorpusRun.RunAsync(testdata, file, cache, TestContext.Current.CancellationToken));
        }

        CorpusReport report = CorpusReport.Of(results);
        string dir = Environment.GetEnvironmentVariable(ReportVariable) is { Length: > 0 } r ? r : Path.Combine(RepoPathsRoot(), "artifacts", "act-corpus");
        report.Write(dir);
        TestContext.Current.SendDiagnosticMessage(report.Summary);

        Assert.True(report.Crashes.Count == 0, "crashes:\n" + report.Summary);
        Assert.True(report.Wrong.Count == 0, "wrong:\n" + report.Summary);
        int floor = cache is null ? CorrectFloorWithoutActionCache : CorrectFloor;
        Assert.True(only.Length > 0 || report.Correct >= floor, $"{report.Correct} correct, fewer than {floor}:\n" + report.Summary);
    }

    /// <summary>Every .yml/.yaml under the corpus with a top-level <c>jobs:</c> (act's loader reads those).</summary>
    public static IEnumerable<string> WorkflowFiles(string testdata) =>
        Directory.EnumerateFiles(testdata, "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yml", StringComparison.Ordinal) || f.EndsWith(".yaml", StringComparison.Ordinal))
            .Where(f => File.ReadLines(f).Any(l => l.StartsWith("jobs:", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);

    private static string RepoPathsRoot() => Kindling.Testing.RepoPaths.Root;
}

/// <summary>The classification of a corpus run against <see cref="ActExpectations"/>.</summary>
public sealed class CorpusReport
{
    public required IReadOnlyList<CorpusResult> Results { get; init; }
    public List<CorpusResult> ResolvedCorrect { get; } = [];
    public List<CorpusResult> RefusedCorrect { get; } = [];
    public List<CorpusResult> Unreviewed { get; } = [];
    /// <summary>Resolved correctly where the run applies stdout workflow commands (part of <see cref="ResolvedCorrect"/>).</summary>
    public List<CorpusResult> NeedWorkflowCommands { get; } = [];
    /// <summary>Resolved, but not what act expects, for a known reason (<see cref="ActExpectations.Differs"/>).</summary>
    public List<(CorpusResult Result, string Why)> Differs { get; } = [];
    public List<(CorpusResult Result, string Why)> Wrong { get; } = [];
    public List<CorpusResult> NotSupported { get; } = [];
    public List<CorpusResult> Crashes { get; } = [];
    public int Correct => ResolvedCorrect.Count + RefusedCorrect.Count;

    public static CorpusReport Of(IReadOnlyList<CorpusResult> results)
    {
        var report = new CorpusReport { Results = results };
        foreach (CorpusResult r in results)
        {
            string? invalid = ActExpectations.Invalid.GetValueOrDefault(r.File);
            switch (r.Outcome)
            {
                case CorpusOutcome.Crash:
                    report.Crashes.Add(r);
                    break;
                case CorpusOutcome.NotSupported:
                    report.NotSupported.Add(r);
                    break;
                case CorpusOutcome.Refused when invalid is not null:
                    report.RefusedCorrect.Add(r);
                    break;
                case CorpusOutcome.Refused:
                    report.Wrong.Add((r, "refused a workflow act accepts"));
                    break;
                case CorpusOutcome.Resolved when invalid is not null:
                    report.Wrong.Add((r, "resolved a workflow act refuses: " + invalid));
                    break;
                case CorpusOutcome.Resolved when ActExpectations.Reviewed.Contains(r.File):
                    report.ResolvedCorrect.Add(r);
                    break;
                case CorpusOutcome.Resolved when ActExpectations.ReviewedWithWorkflowCommands.Contains(r.File):
                    report.ResolvedCorrect.Add(r);
                    report.NeedWorkflowCommands.Add(r);
                    break;
                case CorpusOutcome.Resolved when ActExpectations.Differs.TryGetValue(r.File, out string? why):
                    report.Differs.Add((r, why));
                    break;
                default:
                    report.Unreviewed.Add(r);
                    break;
            }
        }

        return report;
    }

    public string Summary
    {
        get
        {
            var s = new StringBuilder();
            s.AppendLine($"act corpus: {Results.Count} workflow files");
            s.AppendLine($"  correct:       {Correct} ({ResolvedCorrect.Count} resolved as act does, {RefusedCorrect.Count} refused as act refuses)");
            s.AppendLine($"    of which {NeedWorkflowCommands.Count} need the run to apply stdout workflow commands (::set-output, ::set-env, ...)");
            s.AppendLine($"  not supported: {NotSupported.Count}");
            s.AppendLine($"  differs:       {Differs.Count} (resolved, not what act expects, for a known reason: not counted correct)");
            s.AppendLine($"  unreviewed:    {Unreviewed.Count} (resolved, not yet checked against act's expectations: not counted correct)");
            s.AppendLine($"  wrong:         {Wrong.Count}");
            s.AppendLine($"  crashes:       {Crashes.Count}");
            foreach ((CorpusResult r, string why) in Wrong)
            {
                s.AppendLine($"  WRONG {r.File}: {why}: {r.Reason}");
            }

            foreach (CorpusResult r in Crashes)
            {
                s.AppendLine($"  CRASH {r.File}: {r.Reason}");
            }

            foreach ((CorpusResult r, string why) in Differs)
            {
                s.AppendLine($"  differs {r.File}: {why}");
            }

            foreach (CorpusResult r in NeedWorkflowCommands)
            {
                s.AppendLine($"  correct with workflow commands {r.File}");
            }

            foreach (CorpusResult r in Unreviewed)
            {
                s.AppendLine($"  unreviewed {r.File}");
            }

            s.AppendLine("not supported, by reason:");
            foreach (IGrouping<string, CorpusResult> g in NotSupported.GroupBy(r => ActCorpusRun.Family(r.Reason)).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal))
            {
                s.AppendLine($"  {g.Count(),3}  {g.Key}");
                s.AppendLine($"       {string.Join(", ", g.Select(r => r.File))}");
            }

            return s.ToString();
        }
    }

    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "summary.txt"), Summary);
        var all = new StringBuilder();
        foreach (CorpusResult r in Results)
        {
            all.AppendLine($"==== {r.File}: {r.Outcome} {r.Reason}");
            all.AppendLine(r.Output);
        }

        File.WriteAllText(Path.Combine(directory, "outputs.txt"), all.ToString());
    }
}
