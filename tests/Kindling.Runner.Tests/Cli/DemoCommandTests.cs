using System.Diagnostics;
using Kindling.Runner.Cli;
using Kindling.Runner.Forges;

namespace Kindling.Runner.Tests.Cli;

public sealed class DemoCommandTests
{
    /// <summary>
    /// The agent runs each step as <c>sh -e -c RUN</c> in the guest's busybox; the stub launcher does not parse
    /// shell, so a syntax error in the sample job would only show in a real microVM.
    /// </summary>
    [Fact]
    public async Task SampleJob_EveryStep_IsValidShellForTheGuestsBusybox()
    {
        foreach (StepSpec step in DemoCommand.SampleJob.Steps)
        {
            var psi = new ProcessStartInfo("busybox", ["sh", "-n", "-c", step.Run]) { RedirectStandardError = true };
            using Process p = Process.Start(psi)!;
            string error = await p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
            await p.WaitForExitAsync(TestContext.Current.CancellationToken);

            Assert.True(p.ExitCode == 0, $"step '{step.Name}' is not valid sh: {error}");
        }
    }
}
