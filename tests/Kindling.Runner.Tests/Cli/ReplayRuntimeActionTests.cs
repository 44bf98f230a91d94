using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// Actions planned at step time through <c>kindling replay</c> with the stub launcher (its guest runs the steps on
/// this host, host-driven): a local composite action that an earlier step writes is loaded when its step comes and
/// runs with its with: over the steps context then, its outputs reaching a later step.
/// </summary>
public sealed class ReplayRuntimeActionTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-runtime-action-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayRuntimeActionTests()
    {
        Directory.CreateDirectory(Path.Combine(Repo, ".github", "workflows"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Written for this suite: step 2 writes the action (a custom shell copies its script), step 3 uses it.</summary>
    private const string Workflow = """
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - id: pick
                run: echo "fruit=quince" >> "$GITHUB_OUTPUT"
              - shell: cp {0} action.yml
                run: |
                  inputs:
                    who: {required: true}
                    greeting: {default: "hello ${{ '${{ inputs.who }}' }}"}
                  outputs:
                    said: {value: "${{ '${{ steps.say.outputs.line }}' }}"}
                  runs:
                    using: composite
                    steps:
                      - id: say
                        run: echo "line=${{ '${{ inputs.greeting }}' }}" >> "$GITHUB_OUTPUT"
                        shell: sh
                      - run: echo "inside the action, MOOD=$MOOD"
                        shell: sh
              - id: greet
                uses: ./
                env: {MOOD: calm}
                with:
                  who: ${{ steps.pick.outputs.fruit }}
              - run: echo "the action said ${{ steps.greet.outputs.said }}; MOOD=${MOOD:-unset}"
        """;

    private async Task<int> ReplayAsync(params string[] extra)
    {
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero)),
        };
        return await ReplayCommand.Build(io).Parse(["--worktree", "--state", Path.Combine(_root, "state"), "--launcher", "stub", .. extra]).InvokeAsync(cancellationToken: Ct);
    }

    [Fact]
    public async Task Replay_LocalActionWrittenByAnEarlierStep_LoadedAndRunWithStepTimeInputs()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow);

        int exit = await ReplayAsync();

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("  inside the action, MOOD=calm", output, StringComparison.Ordinal);
        Assert.Contains("  the action said hello quince; MOOD=unset", output, StringComparison.Ordinal);
        Assert.Contains("[6/6]", output, StringComparison.Ordinal); // the step list grew by the action's two steps
    }

    [Fact]
    public async Task Replay_DryRunOfALocalActionWrittenAtRunTime_SaysWhenAndByWhichStep()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow);

        int exit = await ReplayAsync("-n");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("[uses: ./: loaded when the step runs, written by an earlier step]", output, StringComparison.Ordinal);
        Assert.Contains("./ is written at run time by step 2", output, StringComparison.Ordinal);
        Assert.DoesNotContain("NOT SUPPORTED", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_LocalActionNeverWritten_StepFailsWithGitHubsMessage()
    {
        File.WriteAllText(Path.Combine(Repo, ".github", "workflows", "ci.yml"), Workflow.Replace("shell: cp {0} action.yml", "shell: cp {0} other.yml", StringComparison.Ordinal)
            .Replace("      - id: pick\n", "      - run: echo action.yml is not written\n      - id: pick\n", StringComparison.Ordinal));

        int exit = await ReplayAsync();

        string output = _out.ToString();
        Assert.NotEqual(0, exit);
        Assert.Contains("Can't find 'action.yml', 'action.yaml' or 'Dockerfile' under '/workspace'", output, StringComparison.Ordinal);
        Assert.DoesNotContain("  the action said", output, StringComparison.Ordinal);
    }
}
