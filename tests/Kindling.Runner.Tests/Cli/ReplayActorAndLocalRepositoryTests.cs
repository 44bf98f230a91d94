using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling replay --actor NAME</c> (github.actor, triggering_actor and $GITHUB_ACTOR) and
/// <c>--local-repository owner/repo@ref=PATH</c> (a remote action from a directory) on the stub guest, and their errors.
/// </summary>
public sealed class ReplayActorAndLocalRepositoryTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-local-repo-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayActorAndLocalRepositoryTests() => Directory.CreateDirectory(Path.Combine(Repo, ".github", "workflows"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");

    private void WriteWorkflow(string steps) =>
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n" + steps);

    private async Task<int> ReplayAsync(params string[] args)
    {
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero)),
        };
        return await ReplayCommand.Build(io).Parse([.. args, "--worktree", "--state", Path.Combine(_root, "state"), "--launcher", "stub"])
            .InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Replay_ActorOnStub_GithubActorTriggeringActorAndEnvironment()
    {
        WriteWorkflow("      - run: echo \"env=$GITHUB_ACTOR ctx=${{ github.actor }} trig=${{ github.triggering_actor }}\"\n");

        int exit = await ReplayAsync("--actor", "nektos/act");

        Assert.True(exit == 0, _out.ToString() + _err);
        Assert.Contains("env=nektos/act ctx=nektos/act trig=nektos/act", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_ActorWithSpace_RefusedBeforeAnythingRuns()
    {
        WriteWorkflow("      - run: echo ran\n");

        Assert.Equal(ReplaySession.ExitUsage, await ReplayAsync("-a", "two words"));

        Assert.Contains("kindling replay: --actor 'two words': give a user name", _err.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("ran", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_LocalRepositoryComposite_OnStub_ItsStepsRunWithTheirInputs()
    {
        string action = Path.Combine(_root, "greet");
        Directory.CreateDirectory(action);
        File.WriteAllText(Path.Combine(action, "action.yml"),
            "name: greet\ninputs:\n  who: {default: world}\nruns:\n  using: composite\n  steps:\n    - shell: sh\n      run: echo \"local hello ${{ inputs.who }}\"\n");
        WriteWorkflow("      - uses: octo/greet@v1\n        with: {who: mona}\n");

        int exit = await ReplayAsync("--local-repository", "https://github.com/octo/greet@v1=../greet");

        Assert.True(exit == 0, _out.ToString() + _err);
        Assert.Contains("local hello mona", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_LocalRepositoryMissingDirectory_RefusedNamingIt()
    {
        WriteWorkflow("      - uses: octo/greet@v1\n");

        Assert.Equal(ReplaySession.ExitUsage, await ReplayAsync("-n", "--local-repository", "octo/greet@v1=../nowhere"));

        Assert.Contains($"--local-repository octo/greet@v1=../nowhere: {Path.Combine(_root, "nowhere")} is not a directory", _err.ToString(), StringComparison.Ordinal);
    }
}
