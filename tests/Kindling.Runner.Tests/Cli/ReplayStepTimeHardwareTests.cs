using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// Expressions at step time in a microVM: the same workflow as <see cref="ReplayStepTimeTests"/>, host-driven through
/// kindling-vmm's MMDS (PATCH /mmds after each step). Runs on hardware KVM as root; skipped elsewhere with the reason.
/// </summary>
public sealed class ReplayStepTimeHardwareTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    [HardwareKvmFact]
    public async Task Replay_RealVm_GitHubEnvAndOutputOfStep1_DecideLaterIfNameAndRun()
    {
        string repo = Directory.CreateTempSubdirectory("kindling-replay-steptime-hw-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
            await File.WriteAllTextAsync(Path.Combine(repo, ".github", "workflows", "ci.yml"), ReplayStepTimeTests.Workflow, TestContext.Current.CancellationToken);
            using var output = new StringWriter();
            using var errors = new StringWriter();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(Limit);
            int exit = await ReplayCommand.Build(new ReplayConsole { Out = output, Error = errors, CurrentDirectory = repo, Environment = _ => null })
                .Parse(["--worktree", "--state", Path.Combine(RepoPaths.Cache, "replay-hw-state")])
                .InvokeAsync(cancellationToken: cts.Token);

            string o = output.ToString();
            Assert.True(exit == 0, o + errors);
            Assert.Contains("  fast path 7 mode fast", o, StringComparison.Ordinal);
            Assert.Contains("Slow path: skipped", o, StringComparison.Ordinal);
            Assert.Contains("  setup was success", o, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }
}
