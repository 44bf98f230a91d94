using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// <c>--local-repository owner/repo@ref=PATH</c> (parsing, errors, taken before the action cache), the ref that stands
/// for a default branch offline, <c>--actor</c> in the github context, and action inputs whose variable is not a shell name.
/// </summary>
public sealed class RemoteSourcesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-remote-sources-").FullName;
    private static readonly string Tools = Path.Combine(ReplayCorpus.Directory, "Actions", "cache", "octo", "tools", "v1");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Dir(string relative)
    {
        string path = Path.Combine(_root, relative);
        Directory.CreateDirectory(path);
        return path;
    }

    [Fact]
    public void ParseLocalRepositories_OwnerRepoAndGitHubUrl_KeyedOwnerRepoAtRefWithFullPaths()
    {
        Dir("a");
        Dir("b");

        IReadOnlyDictionary<string, string> parsed = RemoteSources.ParseLocalRepositories(
            ["Nektos/Test-Override@a=a", "https://github.com/nektos/test-override@b=" + Path.Combine(_root, "b")], _root);

        Assert.Equal(Path.Combine(_root, "a"), parsed["nektos/test-override@a"]);
        Assert.Equal(Path.Combine(_root, "b"), parsed["nektos/test-override@b"]);
        Assert.Equal(2, parsed.Count);
    }

    [Theory]
    [InlineData("octo/tools@v1", "expected owner/repo@ref=PATH")]
    [InlineData("octo/tools@v1=", "expected owner/repo@ref=PATH")]
    [InlineData("octo/tools=x", "'octo/tools' is not owner/repo@ref")]
    [InlineData("octo/tools/js@v1=x", "'octo/tools/js@v1' is not owner/repo@ref")]
    [InlineData("octo/tools@../v1=x", "'octo/tools@../v1' is not owner/repo@ref")]
    [InlineData("https://example.com/octo/tools@v1=x", "is not owner/repo@ref (or https://github.com/owner/repo@ref)")]
    public void ParseLocalRepositories_BadValue_RefusedNamingItAndTheShape(string value, string message)
    {
        Dir("x");

        var e = Assert.Throws<ReplayException>(() => RemoteSources.ParseLocalRepositories([value], _root));

        Assert.StartsWith($"--local-repository {value}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseLocalRepositories_MissingDirectory_RefusedNamingThePath()
    {
        var e = Assert.Throws<ReplayException>(() => RemoteSources.ParseLocalRepositories(["octo/tools@v1=gone"], _root));

        Assert.Contains($"{Path.Combine(_root, "gone")} is not a directory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseLocalRepositories_SameKeyTwoDirectories_Refused()
    {
        Dir("a");
        Dir("b");

        var e = Assert.Throws<ReplayException>(() => RemoteSources.ParseLocalRepositories(["octo/tools@v1=a", "https://github.com/octo/tools@v1=b"], _root));

        Assert.Contains("octo/tools@v1 is given twice", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Find_LocalRepositoryAndCacheBothHoldIt_LocalWins()
    {
        string cached = Dir("cache/octo/tools/v1");
        string local = Dir("mine");
        var remotes = new RemoteSources { ActionCache = Path.Combine(_root, "cache"), LocalRepositories = new Dictionary<string, string> { ["octo/tools@v1"] = local } };

        Assert.Equal(local, remotes.Find("Octo/Tools", "v1", out _));
        Assert.Null(remotes.Find("octo/tools", "v2", out string? expected));
        Assert.Equal(Path.Combine(_root, "cache", "octo/tools", "v2"), expected);
        Assert.True(Directory.Exists(cached));
    }

    [Fact]
    public void DefaultRef_HeadHeld_HeadOverOtherRefs()
    {
        Dir("cache/octo/tools/v1");
        Dir("cache/octo/tools/HEAD");

        Assert.Equal("HEAD", new RemoteSources { ActionCache = Path.Combine(_root, "cache") }.DefaultRef("octo/tools", out IReadOnlyList<string> held));
        Assert.Equal(["HEAD", "v1"], held);
    }

    [Fact]
    public void DefaultRef_OneRefHeld_ThatRef_SeveralWithoutHead_None()
    {
        Dir("cache/octo/tools/v1");
        var remotes = new RemoteSources { ActionCache = Path.Combine(_root, "cache") };
        Assert.Equal("v1", remotes.DefaultRef("octo/tools", out _));

        Dir("cache/octo/tools/v2");
        Assert.Null(remotes.DefaultRef("octo/tools", out IReadOnlyList<string> held));
        Assert.Equal(["v1", "v2"], held);
    }

    [Fact]
    public void Plan_RemoteActionFromLocalRepository_StagedFromThatDirectory()
    {
        ReplayInputs inputs = ReplayActionsTests.Inputs with
        {
            Image = ReplayDefaults.DebianImage, ActionCache = null,
            LocalRepositories = new Dictionary<string, string> { ["octo/other@main"] = Tools },
        };

        ReplayJobPlan p = ReplayActionsTests.Plan("      - uses: octo/other/js@main\n        with: {level: debug}\n", inputs);

        Assert.Equal("exec node '/workspace/.kindling/actions/octo/other/main/js/dist/index.js'", Assert.Single(p.Spec.Steps).Run);
        Assert.Equal((Path.Combine(Tools, "js"), ".kindling/actions/octo/other/main/js"), p.Steps[0].StageAction);
        Assert.Equal("debug", p.Spec.Steps[0].Env["INPUT_LEVEL"]);
    }

    [Fact]
    public void Plan_LocalRepositoryWithoutTheAction_UnsupportedNamingTheDirectory()
    {
        ReplayInputs inputs = ReplayActionsTests.Inputs with { LocalRepositories = new Dictionary<string, string> { ["octo/other@main"] = Tools } };

        PlannedStep s = Assert.Single(ReplayActionsTests.Plan("      - uses: octo/other/nothing@main\n", inputs).UnsupportedSteps);

        Assert.Equal($"--local-repository octo/other@main ({Tools}) has no nothing/action.yml", s.UnsupportedReason);
    }

    [Fact]
    public void Plan_RemoteActionNeitherGiven_SaysBothWays() =>
        Assert.Equal("remote actions run from a local cache: pass --action-cache DIR holding DIR/owner/repo/ref, or --local-repository octo/tools@v1=PATH",
            Assert.Single(ReplayActionsTests.Plan("      - uses: octo/tools@v1\n", ReplayActionsTests.Inputs with { ActionCache = null }).UnsupportedSteps).UnsupportedReason);

    [Fact]
    public void Plan_JavaScriptInputWithDash_ThroughEnvAsGitHubNamesIt()
    {
        ReplayJobPlan p = ReplayActionsTests.Plan("      - uses: octo/tools/js@v1\n        with: {who-to-greet: \"Mona's cat\", level: debug}\n",
            ReplayActionsTests.Inputs with { Image = ReplayDefaults.DebianImage });

        Assert.Equal("exec env 'INPUT_WHO-TO-GREET=Mona'\\''s cat' node '/workspace/.kindling/actions/octo/tools/v1/js/dist/index.js'", Assert.Single(p.Spec.Steps).Run);
        Assert.DoesNotContain("INPUT_WHO-TO-GREET", p.Spec.Steps[0].Env.Keys);
        Assert.Equal("debug", p.Spec.Steps[0].Env["INPUT_LEVEL"]);
    }

    [Fact]
    public void Expand_RemoteReusableWorkflowFromLocalRepository_CalleeJobs()
    {
        string repo = Dir("shared");
        Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
        File.WriteAllText(Path.Combine(repo, ".github", "workflows", "build.yml"), "on: workflow_call\njobs:\n  compile:\n    runs-on: x\n    steps:\n      - run: echo compiled\n");
        Workflow wf = WorkflowParser.Parse("on: push\njobs:\n  call:\n    uses: octo/shared/.github/workflows/build.yml@v2\n", "main.yml");

        Workflow expanded = ReusableWorkflows.Expand(wf, _root, new RemoteSources { LocalRepositories = new Dictionary<string, string> { ["octo/shared@v2"] = repo } });

        Assert.Contains(expanded.Jobs, j => j.Id == "call/compile");
    }

    [Fact]
    public void Expand_RemoteReusableWorkflowLocalRepositoryLacksIt_RefusedNamingTheFile()
    {
        string repo = Dir("shared");
        Workflow wf = WorkflowParser.Parse("on: push\njobs:\n  call:\n    uses: octo/shared/.github/workflows/build.yml@v2\n", "main.yml");

        Workflow expanded = ReusableWorkflows.Expand(wf, _root, new RemoteSources { LocalRepositories = new Dictionary<string, string> { ["octo/shared@v2"] = repo } });

        Assert.Contains($"not in --local-repository octo/shared@v2 ({Path.Combine(repo, ".github/workflows/build.yml")} does not exist)",
            string.Join("\n", expanded.Jobs.Select(j => j.CallError ?? "")), StringComparison.Ordinal);
    }

    [Fact]
    public void GitHub_ActorGiven_OverEventSenderForActorAndTriggeringActor()
    {
        ReplayInputs inputs = ReplayCorpus.Inputs() with
        {
            Actor = "nektos/act",
            Event = ExprValue.Object([new("sender", ExprValue.Object([new("login", ExprValue.String("someone"))]))]),
        };

        ExprValue github = ReplayContexts.GitHub(WorkflowParser.Parse("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: env\n", "w.yml"), "j", inputs);

        Assert.Equal("nektos/act", github.Members["actor"].ToString());
        Assert.Equal("nektos/act", github.Members["triggering_actor"].ToString());
        Assert.Equal("someone", ReplayContexts.GitHub(WorkflowParser.Parse("on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: env\n", "w.yml"), "j",
            inputs with { Actor = null }).Members["actor"].ToString());
    }

    [Theory]
    [InlineData("nektos/act", "nektos/act")]
    [InlineData(" octocat ", "octocat")]
    [InlineData(null, null)]
    public void ParseActor_Given_Trimmed(string? given, string? expected) => Assert.Equal(expected, ReplayContexts.ParseActor(given));

    [Theory]
    [InlineData("")]
    [InlineData("two words")]
    [InlineData("line\nbreak")]
    public void ParseActor_BlankOrSpaced_RefusedWithAnExample(string given) =>
        Assert.Contains("e.g. --actor octocat", Assert.Throws<ReplayException>(() => ReplayContexts.ParseActor(given)).Message, StringComparison.Ordinal);
}
