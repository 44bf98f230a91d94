using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// Expressions at step time through <c>kindling replay</c> on the daemon's job path with the stub launcher: the job
/// runs host-driven (one step at a time through MMDS), so $GITHUB_ENV and step outputs written by one step reach a
/// later step's <c>if:</c>, <c>name:</c> and <c>run:</c>.
/// </summary>
public sealed class ReplayStepTimeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-steptime-").FullName;
    private readonly RecordingLauncher _launcher = new(new StubVmLauncher(TimeSpan.Zero));
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayStepTimeTests()
    {
        Directory.CreateDirectory(Path.Combine(Repo, ".github", "workflows"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");
    private string State => Path.Combine(_root, "state");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The suite's step-time workflow (also run in a microVM by ReplayStepTimeHardwareTests).</summary>
    internal const string Workflow = """
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - id: setup
                run: |
                  echo "MODE=fast" >> "$GITHUB_ENV"
                  echo "n=7" >> "$GITHUB_OUTPUT"
              - name: Fast path ${{ steps.setup.outputs.n }}
                if: env.MODE == 'fast'
                run: echo "fast path ${{ steps.setup.outputs.n }} mode ${{ env.MODE }}"
              - name: Slow path
                if: env.MODE != 'fast'
                run: echo "slow path"
              - name: Always
                if: always()
                run: echo "setup was ${{ steps.setup.outcome }}"
        """;

    private async Task<int> ReplayAsync()
    {
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(_launcher),
        };
        return await ReplayCommand.Build(io).Parse(["--worktree", "--state", State, "--launcher", "stub"]).InvokeAsync(cancellationToken: Ct);
    }

    [Fact]
    public async Task Replay_GitHubEnvAndOutputOfStep1_DecideLaterIfNameAndRun()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow);

        int exit = await ReplayAsync();

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("  fast path 7 mode fast", output, StringComparison.Ordinal);
        Assert.Contains("Fast path 7", output, StringComparison.Ordinal);
        Assert.Contains("Slow path: skipped", output, StringComparison.Ordinal);
        Assert.DoesNotContain("  slow path", output, StringComparison.Ordinal);
        Assert.Contains("  setup was success", output, StringComparison.Ordinal);

        // The guest got the job in host mode: no steps in the document, each handed over when its turn came.
        Assert.Equal("host", _launcher.Requests.Single().Mmds["kindling"]!["job"]!["mode"]!.GetValue<string>());
        Assert.Null(_launcher.Requests.Single().Mmds["kindling"]!["job"]!["steps"]);
    }

    [Fact]
    public async Task Replay_ExpressionFailsAtStepTime_JobFailsWithTheReasonInItsLog()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"),
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - id: a\n        run: echo 'v={x' >> \"$GITHUB_OUTPUT\"\n      - run: echo ${{ fromJSON(steps.a.outputs.v) }}\n      - run: echo not reached\n");

        int exit = await ReplayAsync();

        string output = _out.ToString();
        Assert.NotEqual(0, exit);
        Assert.Contains("kindling: ", output, StringComparison.Ordinal);
        Assert.Contains("step 2", output, StringComparison.Ordinal);
        Assert.DoesNotContain("  not reached", output, StringComparison.Ordinal);
    }
}
