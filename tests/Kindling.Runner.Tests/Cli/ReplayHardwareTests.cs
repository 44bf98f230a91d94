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
}
