using System.CommandLine;
using System.Diagnostics;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>actions/checkout</c> with.ref and with.path in <c>kindling replay</c>: another ref of the local repository
/// (staged from git archive) and a checkout under a path, dry run and run on the stub guest; a ref git does not
/// know is refused before anything runs, unless its step never runs. with.repository naming another repository comes
/// from --local-repository or the action cache (its HEAD without with.ref), or is not supported naming what is missing.
/// </summary>
public sealed class ReplayCheckoutTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-checkout-").FullName;
    private readonly RecordingLauncher _launcher = new(new StubVmLauncher(TimeSpan.Zero));
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    private const string Workflow = """
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - uses: actions/checkout@v4
                with:
                  path: here
              - run: echo "here says $(cat here/version.txt)"
              - uses: actions/checkout@v4
                with:
                  ref: v1
                  path: old/tree
              - run: echo "old says $(cat old/tree/version.txt)"; test ! -e old/tree/.kindling && test ! -e old/tree/here
              - run: echo "root says $(cat version.txt)"
              - if: false
                uses: actions/checkout@v4
                with:
                  ref: refs/pull/${{ github.event.pull_request.number }}/merge
        """;

    public ReplayCheckoutTests() => CreateRepo(Repo);

    /// <summary>A git repository whose tag v1 says "one" and whose HEAD says "two", with the suite's checkout workflow (also run in a microVM).</summary>
    internal static void CreateRepo(string repo)
    {
        Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
        Git(repo, "init", "-q", "-b", "main");
        File.WriteAllText(Path.Combine(repo, "version.txt"), "one\n");
        File.WriteAllText(Path.Combine(repo, ".github", "workflows", "ci.yml"), Workflow);
        Git(repo, "add", "-A");
        Git(repo, "commit", "-qm", "one");
        Git(repo, "tag", "v1");
        File.WriteAllText(Path.Combine(repo, "version.txt"), "two\n");
        Git(repo, "commit", "-qam", "two");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void Git(string repo, params string[] args)
    {
        using Process git = Process.Start(new ProcessStartInfo("git", ["-C", repo, "-c", "user.name=t", "-c", "user.email=t@localhost", .. args])
            { RedirectStandardError = true })!;
        git.WaitForExit();
        Assert.True(git.ExitCode == 0, $"git {string.Join(' ', args)}: {git.StandardError.ReadToEnd()}");
    }

    private async Task<int> ReplayAsync(params string[] args)
    {
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(_launcher),
        };
        return await ReplayCommand.Build(io).Parse([.. args, "--state", Path.Combine(_root, "state"), "--launcher", "stub"]).InvokeAsync(cancellationToken: Ct);
    }

    [Fact]
    public async Task DryRun_RefAndPath_StepsSayWhatTheyCheckOut()
    {
        Assert.Equal(0, await ReplayAsync("-n"));

        string output = _out.ToString();
        Assert.Contains("checks out the HEAD ", output, StringComparison.Ordinal);
        Assert.Contains("in $GITHUB_WORKSPACE/here", output, StringComparison.Ordinal);
        Assert.Matches(@"checks out v1 \([0-9a-f]{12}\) in \$GITHUB_WORKSPACE/old/tree", output);
        Assert.DoesNotContain("not supported", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_RefAndPathOnStub_EachTreeWhereTheWorkflowAsks()
    {
        int exit = await ReplayAsync();

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("here says two", output, StringComparison.Ordinal);
        Assert.Contains("old says one", output, StringComparison.Ordinal);
        Assert.Contains("root says two", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_RefGitDoesNotKnow_RefusedNamingTheRefAndTheFix()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow.Replace("ref: v1", "ref: v9", StringComparison.Ordinal));

        Assert.Equal(ReplaySession.ExitUsage, await ReplayAsync("-n", "--worktree"));

        string said = _out.ToString() + _err;
        Assert.Contains("with.ref: 'v9' is not a branch, tag or commit of", said, StringComparison.Ordinal);
        Assert.Contains("git fetch origin v9", said, StringComparison.Ordinal);
    }

    private void WriteWorkflow(string steps) =>
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" + steps);

    private string Tree(string relative, string file, string text)
    {
        string dir = Path.Combine(_root, relative);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, file), text);
        return dir;
    }

    [Fact]
    public async Task Replay_AnotherRepositoryFromLocalRepository_ItsTreeUnderThePath()
    {
        string tools = Tree("tools", "action.yml", "name: 'Checkout'\n");
        WriteWorkflow("      - uses: actions/checkout@v4\n        with: {repository: octo/tools, ref: v3, path: sub}\n" +
                      "      - run: grep Checkout sub/action.yml && echo \"root says $(cat version.txt)\"\n");

        int exit = await ReplayAsync("--worktree", "--local-repository", $"octo/tools@v3={tools}");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("octo/tools@v3 checked out in $GITHUB_WORKSPACE/sub", output, StringComparison.Ordinal);
        Assert.Contains("name: 'Checkout'", output, StringComparison.Ordinal);
        Assert.Contains("root says two", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_AnotherRepositoryWithoutRef_TheCachesHeadAsItsDefaultBranch()
    {
        Tree("cache/octo/tools/HEAD", "readme.txt", "the default branch\n");
        Tree("cache/octo/tools/v1", "readme.txt", "tag v1\n");
        WriteWorkflow("      - uses: actions/checkout@v4\n        with: {repository: octo/tools, path: t}\n      - run: echo \"t says $(cat t/readme.txt)\"\n");

        int exit = await ReplayAsync("--worktree", "--action-cache", Path.Combine(_root, "cache"));

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("t says the default branch", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_AnotherRepositoryNotHeld_NotSupportedNamingTheDirectoryLookedFor()
    {
        Directory.CreateDirectory(Path.Combine(_root, "cache"));
        WriteWorkflow("      - uses: actions/checkout@v4\n        with: {repository: octo/tools, ref: v9, path: x}\n");

        await ReplayAsync("-n", "--worktree", "--action-cache", Path.Combine(_root, "cache"));

        Assert.Contains($"NOT SUPPORTED: with.repository octo/tools at v9 is not here (expected {Path.Combine(_root, "cache", "octo/tools", "v9")}): " +
                        "pass --action-cache DIR holding DIR/octo/tools/v9, or --local-repository octo/tools@v9=PATH", _out.ToString() + _err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_AnotherRepositorySeveralRefsNoHead_AsksForTheRef()
    {
        Tree("cache/octo/tools/v1", "a", "");
        Tree("cache/octo/tools/v2", "a", "");
        WriteWorkflow("      - uses: actions/checkout@v4\n        with: {repository: octo/tools}\n");

        await ReplayAsync("-n", "--worktree", "--action-cache", Path.Combine(_root, "cache"));

        Assert.Contains("cannot tell offline among the refs held (v1, v2): give with.ref", _out.ToString() + _err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_RepositoryNotOwnerRepo_RefusedNamingTheKey()
    {
        WriteWorkflow("      - uses: actions/checkout@v4\n        with: {repository: just-a-name}\n");

        Assert.Equal(ReplaySession.ExitUsage, await ReplayAsync("-n", "--worktree"));

        Assert.Contains("with.repository: 'just-a-name' is not owner/repo", _out.ToString() + _err, StringComparison.Ordinal);
    }
}
