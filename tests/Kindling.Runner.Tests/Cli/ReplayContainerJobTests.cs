using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// A job with <c>container:</c> through <c>kindling replay</c> with the stub launcher (its guest runs the steps on this
/// host, host-driven): container.env under the job's env, sh as the default shell, options' --user and --hostname
/// applied to the steps, and a job that fails at set-up (credentials, a user the passwd file does not have).
/// </summary>
public sealed class ReplayContainerJobTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-container-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayContainerJobTests()
    {
        Directory.CreateDirectory(Path.Combine(Repo, ".github", "workflows"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Written for this suite: one job on the runner, one in a container, reporting what their steps see.</summary>
    private const string Workflow = """
        on: push
        jobs:
          plain:
            runs-on: x
            steps:
              - run: if [ -n "${BASH:-}" ]; then echo "shell=bash"; else echo "shell=sh"; fi
          boxed:
            runs-on: x
            container:
              image: node:20-bookworm
              env: {FROM_CONTAINER: yes, OVERRIDDEN: by-container}
              options: --hostname box.example --user 4321:4322 --cpus 2 -e FROM_OPTIONS=opt
            env: {OVERRIDDEN: by-job}
            steps:
              - id: probe
                run: |
                  if [ -n "${BASH:-}" ]; then echo "shell=bash"; else echo "shell=sh"; fi
                  echo "env=$FROM_CONTAINER/$FROM_OPTIONS/$OVERRIDDEN/$STEP_LEVEL host=$(uname -n) id=$(id -u):$(id -g) home=$HOME"
                  echo "who=$(id -u)" >> "$GITHUB_OUTPUT"
                  touch written-by-the-job-user
                env: {STEP_LEVEL: step}
              - run: echo "output=${{ steps.probe.outputs.who }} owner=$(stat -c %u written-by-the-job-user)"
          default-name:
            runs-on: x
            container: node:20-bookworm
            steps:
              - run: echo "host=$(uname -n) id=$(id -u)"
          no-such-user:
            runs-on: x
            container:
              image: node:20-bookworm
              options: --user kindling-no-such-user
            steps:
              - run: echo should not run
          bad-credentials:
            runs-on: x
            container:
              image: node:20-bookworm
              credentials: {username: user, password: ""}
            steps:
              - run: echo should not run
        """;

    private async Task<int> ReplayAsync(params string[] extra)
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow);
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero)),
        };
        return await ReplayCommand.Build(io).Parse(["--worktree", "--image", "debian", "--state", Path.Combine(_root, "state"), "--launcher", "stub", .. extra])
            .InvokeAsync(cancellationToken: Ct);
    }

    [Fact]
    public async Task Replay_JobOnTheRunner_DefaultShellIsBashOnTheDebianImage()
    {
        int exit = await ReplayAsync("-j", "plain");

        Assert.True(exit == 0, _out.ToString() + _err);
        Assert.Contains("  shell=bash", _out.ToString(), StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Replay_ContainerJob_EnvShellUserAndHostnameAsGitHubAppliesThem()
    {
        int exit = await ReplayAsync("-j", "boxed");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("  shell=sh", output, StringComparison.Ordinal);
        Assert.Contains("  env=yes/opt/by-job/step host=box.example id=4321:4322 home=/", output, StringComparison.Ordinal);
        Assert.Contains("  output=4321 owner=4321", output, StringComparison.Ordinal);
        Assert.Contains("container: node:20-bookworm is not pulled: the job runs in a microVM of the Kindling debian image in its place", output + _err, StringComparison.Ordinal);
        Assert.Contains("container.options: --cpus is ignored", output + _err, StringComparison.Ordinal);
        Assert.DoesNotContain("host=" + Environment.MachineName + " ", output, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Replay_ContainerJobWithoutHostname_GeneratedNameNotTheHostsAndRoot()
    {
        int exit = await ReplayAsync("-j", "default-name");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        string line = output.Split('\n').Single(l => l.StartsWith("  host=", StringComparison.Ordinal));
        Assert.Matches("^  host=[0-9a-f]{12} id=0$", line);
    }

    [RootFact]
    public async Task Replay_ContainerUserMissingFromPasswd_JobFailsAtSetUpWithDockersMessage()
    {
        int exit = await ReplayAsync("-j", "no-such-user");

        string all = _out.ToString() + _err;
        Assert.NotEqual(0, exit);
        Assert.Contains("unable to find user kindling-no-such-user: no matching entries in passwd file", all, StringComparison.Ordinal);
        Assert.DoesNotContain("  should not run", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_ContainerCredentialsWithAnEmptyPassword_JobFailsBeforeAnyStep()
    {
        int exit = await ReplayAsync("-j", "bad-credentials");

        string all = _out.ToString() + _err;
        Assert.NotEqual(0, exit);
        Assert.Contains("failed to set up: failed to handle credentials: container.credentials.password is empty", all, StringComparison.Ordinal);
        Assert.DoesNotContain("  should not run", all, StringComparison.Ordinal);
    }
}
