using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// kindling replay for real: the minimal image, kindling-vmm, a Linux guest, the in-guest agent, MMDS over a TAP.
/// Runs on hardware KVM as root; elsewhere it is skipped with the measured reason (this project's development
/// hosts emulate guest kernel code and a Linux guest boot there takes minutes; LinuxGuestTests covers that path).
/// </summary>
public sealed class ReplayHardwareTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(10);

    [HardwareKvmFact]
    public async Task Replay_RealVm_StepsRunInGuestWorkspaceAndSecretMasked()
    {
        string repo = Directory.CreateTempSubdirectory("kindling-replay-hw-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
            await File.WriteAllTextAsync(Path.Combine(repo, "hello.txt"), "from the workspace\n", TestContext.Current.CancellationToken);
            await File.WriteAllTextAsync(Path.Combine(repo, ".github", "workflows", "ci.yml"), """
                on: push
                jobs:
                  hw:
                    runs-on: ubuntu-latest
                    env:
                      AUTH: token ${{ secrets.HW_TOKEN }}
                    steps:
                      - run: cat hello.txt && uname -s
                      - run: echo "auth=$AUTH"
                      - run: exit 4
                      - if: failure()
                        run: echo "after failure in $GITHUB_WORKSPACE"
                """, TestContext.Current.CancellationToken);
            using var output = new StringWriter();
            using var errors = new StringWriter();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(Limit);
            int exit = await ReplayCommand.Build(new ReplayConsole { Out = output, Error = errors, CurrentDirectory = repo, Environment = _ => null })
                .Parse(["--worktree", "-s", "HW_TOKEN=hardware-secret-value", "--state", Path.Combine(RepoPaths.Cache, "replay-hw-state")])
                .InvokeAsync(cancellationToken: cts.Token);

            string o = output.ToString();
            Assert.True(exit == 4, o + errors);
            Assert.Contains("  from the workspace", o, StringComparison.Ordinal);
            Assert.Contains("  Linux", o, StringComparison.Ordinal);
            Assert.Contains("  auth=***", o, StringComparison.Ordinal);
            Assert.Contains("  after failure in /workspace", o, StringComparison.Ordinal);
            Assert.DoesNotContain("hardware-secret-value", o, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }

    /// <summary>The suite's outputs-needs.yml in microVMs: step output → job output → needs of two later jobs; $GITHUB_ENV to a later step.</summary>
    [HardwareKvmFact]
    public async Task Replay_RealVm_OutputsFlowAcrossJobsAndGitHubEnvReachesLaterSteps()
    {
        string repo = Directory.CreateTempSubdirectory("kindling-replay-hw-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
            File.Copy(Path.Combine(Replay.ReplayCorpus.Workflows, "outputs-needs.yml"), Path.Combine(repo, ".github", "workflows", "ci.yml"));
            await File.WriteAllTextAsync(Path.Combine(repo, ".github", "workflows", "env.yml"), """
                on: push
                jobs:
                  env:
                    runs-on: ubuntu-latest
                    steps:
                      - run: echo "STAGE=two" >> "$GITHUB_ENV"; mkdir -p /tmp/t && printf '#!/bin/sh\necho tool\n' > /tmp/t/tool && chmod +x /tmp/t/tool && echo /tmp/t >> "$GITHUB_PATH"
                      - run: echo "stage=$STAGE" && tool
                """, TestContext.Current.CancellationToken);
            using var output = new StringWriter();
            using var errors = new StringWriter();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            cts.CancelAfter(Limit);
            var console = new ReplayConsole { Out = output, Error = errors, CurrentDirectory = repo, Environment = _ => null };
            string state = Path.Combine(RepoPaths.Cache, "replay-hw-state");
            int needs = await ReplayCommand.Build(console).Parse(["--worktree", "-j", "report", "--state", state]).InvokeAsync(cancellationToken: cts.Token);
            int env = await ReplayCommand.Build(console).Parse(["--worktree", "-j", "env", "--state", state]).InvokeAsync(cancellationToken: cts.Token);

            string o = output.ToString();
            Assert.True(needs == 0 && env == 0, o + errors);
            Assert.Contains("  building v1.2.3 for stable", o, StringComparison.Ordinal);
            Assert.Contains("  results success,success", o, StringComparison.Ordinal);
            Assert.Contains("  stage=two", o, StringComparison.Ordinal);
            Assert.Contains("  tool", o, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(repo, recursive: true);
        }
    }
}
