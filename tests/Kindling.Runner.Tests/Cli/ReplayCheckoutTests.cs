using System.CommandLine;
using System.Diagnostics;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>actions/checkout</c> with.ref and with.path in <c>kindling replay</c>: another ref of the local repository
/// (staged from git archive) and a checkout under a path, dry run and run on the stub guest; a ref git does not
/// know is refused before anything runs, unless its step never runs.
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

    [Fact]
    public async Task DryRun_AnotherRepository_NotSupportedNamingIt()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - uses: actions/checkout@v4\n        with: {repository: actions/checkout, path: x}\n");

        await ReplayAsync("-n", "--worktree");

        Assert.Contains("with.repository: checking out another repository (actions/checkout) is not supported", _out.ToString() + _err, StringComparison.Ordinal);
    }
}
