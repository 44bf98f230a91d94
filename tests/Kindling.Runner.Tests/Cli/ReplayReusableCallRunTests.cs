using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling replay</c> of reusable workflow calls with the calling job's strategy.matrix and if:, run on the stub
/// guest (the daemon's job path, no KVM): one call per combination, outputs reaching needs, a skipped call, and a
/// secret mapped to a literal masked in the log.
/// </summary>
public sealed class ReplayReusableCallRunTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-callrun-").FullName;
    private readonly RecordingLauncher _launcher = new(new StubVmLauncher(TimeSpan.Zero));
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayReusableCallRunTests() => WriteWorkflows(Repo);

    /// <summary>The suite's caller (matrix call, false if:, literal secret) and callee (also run in a microVM by ReplayCallAndCheckoutHardwareTests).</summary>
    internal static void WriteWorkflows(string repo)
    {
        Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
        File.WriteAllText(Path.Combine(repo, ".github", "workflows", "ci.yml"), """
            on: push
            jobs:
              build:
                strategy:
                  matrix:
                    os: [linux, bsd]
                uses: ./.github/workflows/build.yml
                with:
                  target: ${{ matrix.os }}
                secrets:
                  key: literal-key-${{ matrix.os }}
              never:
                if: github.event_name == 'schedule'
                uses: ./.github/workflows/build.yml
                with: {target: never}
              report:
                needs: [build, never]
                if: always()
                runs-on: x
                steps:
                  - run: echo "report ${{ needs.build.outputs.built }} ${{ needs.build.result }} ${{ needs.never.result }}"
            """);
        File.WriteAllText(Path.Combine(repo, ".github", "workflows", "build.yml"), """
            on:
              workflow_call:
                inputs:
                  target: {type: string, required: true}
                secrets:
                  key: {required: false}
                outputs:
                  built: {value: "${{ jobs.make.outputs.file }}"}
            jobs:
              make:
                runs-on: x
                outputs:
                  file: ${{ steps.out.outputs.file }}
                steps:
                  - id: out
                    run: echo "file=${{ inputs.target }}.tgz" >> "$GITHUB_OUTPUT"
                  - run: echo "made ${{ inputs.target }} with key $KEY"
                    env:
                      KEY: ${{ secrets.key }}
            """);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string Repo => Path.Combine(_root, "repo");
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<int> ReplayAsync(params string[] args)
    {
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = Repo, Environment = _ => null,
            Services = s => s.AddSingleton<IVmLauncher>(_launcher),
        };
        return await ReplayCommand.Build(io).Parse([.. args, "--worktree", "--state", Path.Combine(_root, "state"), "--launcher", "stub"]).InvokeAsync(cancellationToken: Ct);
    }

    [Fact]
    public async Task DryRun_MatrixCallAndFalseIf_CallsListedAndSkipShown()
    {
        Assert.Equal(0, await ReplayAsync("-n", "-j", "never/make"));
        Assert.Contains("the calling job never's if: (github.event_name == 'schedule') is false", _out.ToString(), StringComparison.Ordinal);

        Assert.Equal(0, await ReplayAsync("-l"));
        Assert.Contains("build (linux)/make", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("build (bsd)/make", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_MatrixCallOnStub_EachCallRunsOutputsReachNeedsLiteralSecretMasked()
    {
        int exit = await ReplayAsync("-j", "report");

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("made linux with key ***", output, StringComparison.Ordinal);
        Assert.Contains("made bsd with key ***", output, StringComparison.Ordinal);
        Assert.DoesNotContain("literal-key-", output + _err, StringComparison.Ordinal);
        Assert.Contains("report bsd.tgz success skipped", output, StringComparison.Ordinal);
        Assert.Equal(3, _launcher.Requests.Count); // two calls of make, and report: the skipped call boots nothing
    }
}
