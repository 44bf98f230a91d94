using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// In a microVM: the reusable workflow calls of <see cref="ReplayReusableCallRunTests"/> (matrix, if:, literal
/// secret) and the checkouts of <see cref="ReplayCheckoutTests"/> (with.ref, with.path). Runs on hardware KVM as root;
/// skipped elsewhere with the reason.
/// </summary>
public sealed class ReplayCallAndCheckoutHardwareTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(15);

    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-replay-calls-hw-").FullName;

    public void Dispose() => Directory.Delete(_repo, recursive: true);

    private async Task<(int Exit, string Output)> ReplayAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(Limit);
        int exit = await ReplayCommand.Build(new ReplayConsole { Out = output, Error = errors, CurrentDirectory = _repo, Environment = _ => null })
            .Parse([.. args, "--state", Path.Combine(RepoPaths.Cache, "replay-hw-state")])
            .InvokeAsync(cancellationToken: cts.Token);
        return (exit, output.ToString() + errors);
    }

    [HardwareKvmFact]
    public async Task Replay_RealVm_MatrixCallOutputsReachNeedsLiteralSecretMasked()
    {
        ReplayReusableCallRunTests.WriteWorkflows(_repo);

        (int exit, string o) = await ReplayAsync("--worktree", "-j", "report");

        Assert.True(exit == 0, o);
        Assert.Contains("made bsd with key ***", o, StringComparison.Ordinal);
        Assert.DoesNotContain("literal-key-", o, StringComparison.Ordinal);
        Assert.Contains("report bsd.tgz success skipped", o, StringComparison.Ordinal);
    }

    [HardwareKvmFact]
    public async Task Replay_RealVm_CheckoutRefAndPath()
    {
        ReplayCheckoutTests.CreateRepo(_repo);

        (int exit, string o) = await ReplayAsync();

        Assert.True(exit == 0, o);
        Assert.Contains("here says two", o, StringComparison.Ordinal);
        Assert.Contains("old says one", o, StringComparison.Ordinal);
    }
}
