using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay.Workflows;

public sealed class WorkflowParserTests
{
    public static TheoryData<string> CorpusFiles() => [.. ReplayCorpus.ValidFiles()];

    [Theory]
    [MemberData(nameof(CorpusFiles))]
    public void ParseFile_Corpus_EveryJobHasStepsOrUses(string file)
    {
        Workflow wf = WorkflowParser.ParseFile(Path.Combine(ReplayCorpus.Workflows, file));
        Assert.NotEmpty(wf.Jobs);
        Assert.All(wf.Jobs, j => Assert.True(j.Steps.Count > 0 || j.Uses is not null, j.Id));
        Assert.Equal(Path.Combine(ReplayCorpus.Workflows, file), wf.FullPath);
    }

    [Fact]
    public void Parse_NodeCi_MatrixEnvAndSteps()
    {
        Workflow wf = ReplayCorpus.Load("node-ci.yml");
        Assert.Equal("Node CI", wf.Name);
        Assert.Equal(["push", "pull_request"], wf.Events);
        Assert.Equal([new("NODE_OPTIONS", "--max-old-space-size=4096"), new("CI_MODE", "strict")], wf.Env);
        WorkflowJob test = Assert.Single(wf.Jobs);
        Assert.Equal("20", test.TimeoutMinutes);
        Assert.Equal(["${{ matrix.os }}"], test.RunsOn);
        MatrixSpec m = test.Matrix!;
        Assert.Equal(["os", "node"], m.Axes.Select(a => a.Key));
        Assert.Equal([ExprKind.Number], m.Axes[1].Values.Select(v => v.Kind).Distinct());
        Assert.Single(m.Exclude);
        Assert.Equal(2, m.Include.Count);
        Assert.Equal("actions/setup-node@v4", test.Steps[1].Uses);
        Assert.Equal([new("node-version", "${{ matrix.node }}"), new("cache", "npm")], test.Steps[1].With);
        Assert.Equal("${{ matrix.experimental == true }}", test.Steps[3].ContinueOnError);
        Assert.Equal(new SourceMark(36, 9), test.Steps[0].Mark);
    }

    [Fact]
    public void Parse_GoBuild_DefaultsAtBothLevels()
    {
        Workflow wf = ReplayCorpus.Load("go-build.yml");
        Assert.Equal(new RunDefaults("bash", "./src"), wf.Defaults);
        WorkflowJob build = wf.Jobs[0];
        Assert.Equal(new RunDefaults(null, "./cmd/server"), build.Defaults);
        Assert.Equal(["self-hosted", "linux", "x64"], build.RunsOn);
        Assert.Equal("0", build.Env[0].Value); // quoted in YAML: kept as written
        Assert.Equal("sh", build.Steps[4].Shell);
    }

    [Fact]
    public void Parse_Dispatch_InputDefaultsTyped()
    {
        Workflow wf = ReplayCorpus.Load("dispatch.yml");
        Assert.Equal(["environment", "dry_run"], wf.InputDefaults.Select(i => i.Key));
        Assert.Equal("staging", wf.InputDefaults[0].Value.AsString);
        Assert.Equal(ExprValue.True, wf.InputDefaults[1].Value);
    }

    [Fact]
    public void Parse_Monorepo_NeedsContainerServices()
    {
        Workflow wf = ReplayCorpus.Load("monorepo.yml");
        WorkflowJob build = wf.Jobs.Single(j => j.Id == "build");
        Assert.Equal(["lint"], build.Needs);
        Assert.Equal("node:20-bookworm", build.Container?.Image);
        Assert.Equal(["postgres"], build.Services);
        Assert.Equal(["lint", "build"], wf.Jobs.Single(j => j.Id == "e2e").Needs);
    }

    [Fact]
    public void Parse_ReusableCaller_JobUsesRecorded() =>
        Assert.Equal("octo-org/shared/.github/workflows/build.yml@v2", ReplayCorpus.Load("reusable-caller.yml").Jobs[0].Uses);

    [Theory]
    [InlineData("bad-indent.yml", "bad-indent.yml:8:6: invalid YAML: while parsing a block mapping, did not find expected key")]
    [InlineData("tab-indent.yml", "tab-indent.yml:7:1: invalid YAML: while scanning a mapping, found invalid tab as indentation")]
    [InlineData("unclosed-flow.yml", "unclosed-flow.yml:2:10: invalid YAML: the parser stopped after this point (an unclosed [ or { ?)")]
    [InlineData("unknown-key.yml", "unknown-key.yml:6:5: unknown key 'step' in job 'build' (did you mean 'steps'?)")]
    [InlineData("no-run.yml", "no-run.yml:7:9: step 1 of job 'build' needs exactly one of run: or uses:")]
    [InlineData("no-on.yml", "no-on.yml:1:1: the workflow has no on: (GitHub runs a workflow only for the events its on: names")]
    [InlineData("uses-no-ref.yml", "uses-no-ref.yml:7:15: step 1 of job 'build': uses: octo-org/setup-tool: expected {owner}/{repo}[/path]@ref")]
    [InlineData("uses-short-sha.yml", "uses-short-sha.yml:7:15: step 1 of job 'build': uses: octo-org/setup-tool@4f2c9a1: the ref 4f2c9a1 is a shortened commit SHA")]
    public void ParseFile_Invalid_LineColumnAndReason(string file, string expected)
    {
        var e = Assert.Throws<WorkflowException>(() => WorkflowParser.ParseFile(Path.Combine(ReplayCorpus.Invalid, file), file));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
        Assert.NotNull(e.Mark);
    }

    [Theory]
    [InlineData("", "the file is empty")]
    [InlineData("- a\n- b\n", "1:1: a workflow must be a mapping with on: and jobs:")]
    [InlineData("on: push\n", "the workflow has no jobs:")]
    [InlineData("on: push\njobs: {}\n", "jobs: is empty")]
    [InlineData("on: push\njobs:\n  b:\n    steps:\n      - run: x\n", "3:3: job 'b' has no runs-on:")]
    [InlineData("on: push\njobs:\n  b:\n    runs-on: x\n", "job 'b' has no steps:")]
    [InlineData("on: push\njobs:\n  9bad:\n    runs-on: x\n    steps: [{run: x}]\n", "job id '9bad' must start with a letter")]
    [InlineData("on: push\njobs:\n  b:\n    runs-on: x\n    steps: [{run: x}]\n    env: [a]\n", "jobs.b.env must be a mapping")]
    [InlineData("on: push\njobs:\n  b:\n    runs-on: x\n    steps: [{run: x}]\n    strategy:\n      matrix:\n        os: linux\n", "jobs.b.strategy.matrix.os must be a list of values")]
    [InlineData("on: push\njobs:\n  b:\n    runs-on: x\n    steps: [{run: x}]\n  b:\n    runs-on: y\n    steps: [{run: y}]\n", "invalid YAML: duplicate key")]
    [InlineData("on: push\nname: a\n---\non: push\n", "several YAML documents")]
    public void Parse_Malformed_ClearError(string yaml, string expected) =>
        Assert.Contains(expected, Assert.Throws<WorkflowException>(() => WorkflowParser.Parse(yaml, "w.yml")).Message, StringComparison.OrdinalIgnoreCase);

    [Theory]
    [InlineData("3.10", ExprKind.Number, "3.1")] // the YAML float every Python matrix trips on: GitHub sees 3.1 too
    [InlineData("'3.10'", ExprKind.String, "3.10")]
    [InlineData("18", ExprKind.Number, "18")]
    [InlineData("true", ExprKind.Boolean, "true")]
    [InlineData("~", ExprKind.Null, "")]
    [InlineData("0x1f", ExprKind.Number, "31")]
    [InlineData("ubuntu-22.04", ExprKind.String, "ubuntu-22.04")]
    public void Parse_MatrixScalars_YamlCoreSchemaTypes(string scalar, ExprKind kind, string text)
    {
        Workflow wf = WorkflowParser.Parse($"on: push\njobs:\n  b:\n    runs-on: x\n    strategy:\n      matrix:\n        v: [{scalar}]\n    steps: [{{run: x}}]\n", "w.yml");
        ExprValue v = wf.Jobs[0].Matrix!.Axes[0].Values[0];
        Assert.Equal(kind, v.Kind);
        Assert.Equal(text, v.ToString());
    }

    [Theory]
    [InlineData("needs: bild", "w.yml:9:12: job 'b' needs 'bild', which is not a job of this workflow (its jobs: build, b)")]
    [InlineData("needs: b", "w.yml:9:12: job 'b' needs itself; remove 'b' from its needs:")]
    public void Parse_BadNeeds_Refused(string needs, string expected) =>
        Assert.Equal(expected, Assert.Throws<WorkflowException>(() => WorkflowParser.Parse(
            $"on: push\njobs:\n  build:\n    runs-on: x\n    steps: [{{run: x}}]\n  b:\n    runs-on: x\n    steps: [{{run: x}}]\n    {needs}\n", "w.yml")).Message);

    [Fact]
    public void Parse_NeedsCycle_Refused() =>
        Assert.Contains("the jobs' needs: form a cycle (a -> b -> a)", Assert.Throws<WorkflowException>(() => WorkflowParser.Parse(
            "on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n    steps: [{run: x}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: x}]\n", "w.yml")).Message, StringComparison.Ordinal);

    [Fact]
    public void Parse_StrategyAndOutputs_Read()
    {
        WorkflowJob j = Assert.Single(WorkflowParser.Parse(
            "on: push\njobs:\n  a:\n    runs-on: x\n    outputs: {v: '${{ steps.s.outputs.v }}'}\n    strategy: {fail-fast: false, max-parallel: 2}\n    steps: [{run: x}]\n", "w.yml").Jobs);
        Assert.Equal("false", j.FailFast);
        Assert.Equal("2", j.MaxParallel);
        Assert.Equal([new("v", "${{ steps.s.outputs.v }}")], j.Outputs);
    }
}
