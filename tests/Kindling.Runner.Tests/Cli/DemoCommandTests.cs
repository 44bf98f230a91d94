using System.Diagnostics;
using Kindling.Runner.Cli;
using Kindling.Runner.Forges;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

public sealed class DemoCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-demo-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string State => Path.Combine(_dir, "state");

    /// <summary>A free port, no TAP and no jail: nothing of the host's is touched.</summary>
    private static readonly Dictionary<string, string?> Sandbox = new()
    {
        ["Kindling:Web:Url"] = "http://127.0.0.1:0", ["Kindling:Launcher:Network"] = "false", ["Kindling:Launcher:Jail:Enabled"] = "false",
    };

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
            string error = await p.StandardError.ReadToEndAsync(Ct);
            await p.WaitForExitAsync(Ct);

            Assert.True(p.ExitCode == 0, $"step '{step.Name}' is not valid sh: {error}");
        }
    }

    /// <summary>
    /// The real launcher and kindling-vmm with images that cannot boot (here /dev/kvm is missing; elsewhere the
    /// kernel is not one): the job never ran, and the demo says so with exit code 1.
    /// </summary>
    [Fact]
    public async Task RunAsync_VmNeverStarts_ExitsOneJobFailed()
    {
        string images = Path.Combine(_dir, "images");
        Directory.CreateDirectory(images);
        await File.WriteAllBytesAsync(Path.Combine(images, DirectoryImageProvider.Kernel), new byte[4096], Ct);
        await File.WriteAllBytesAsync(Path.Combine(images, DirectoryImageProvider.Rootfs), new byte[4096], Ct);

        int exit = await DemoCommand.RunAsync(State, "vmm", keepServing: false, Sandbox,
            s => s.AddSingleton<IImageProvider>(new DirectoryImageProvider(images, overlayBytes: 16L << 20)), Ct);

        Assert.Equal(1, exit);
        AssertNeverSucceeded(expectedFailure: "VMM API PUT /actions answered");
    }

    /// <summary>A guest that starts the job and then goes away without its job-end line (it rebooted, or crashed): not a success.</summary>
    [Fact]
    public async Task RunAsync_GuestExitsZeroWithoutJobEnd_ExitsOneJobFailed()
    {
        int exit = await DemoCommand.RunAsync(State, "stub", keepServing: false, Sandbox,
            s => s.AddSingleton<IVmLauncher>(new VanishingGuestLauncher()), Ct);

        Assert.Equal(1, exit);
        AssertNeverSucceeded(expectedFailure: "before the job ended");
    }

    private void AssertNeverSucceeded(string expectedFailure)
    {
        var store = new JobStore(Path.Combine(State, "kindling.db"), TimeProvider.System);
        JobRecord job = Assert.Single(store.List());
        IReadOnlyList<JobTransition> history = store.Transitions(job.Id);
        Assert.DoesNotContain(history, t => t.To == JobState.Succeeded);
        Assert.Contains(history, t => t.To == JobState.Failed && t.Reason.Contains(expectedFailure, StringComparison.Ordinal));
    }

    /// <summary>A "VM" whose guest writes job-start to the serial FIFO and exits 0 at once.</summary>
    private sealed class VanishingGuestLauncher : IVmLauncher
    {
        public Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
        {
            string id = Kindling.Images.Guest.JobDocument.Parse(request.Mmds["kindling"]![Kindling.Images.Guest.JobDocument.Key]!.GetValue<string>())["kindling"]!["job"]!["id"]!.GetValue<string>();
            Process p = DetachedProcess.Start("/bin/sh", ["-c", $"echo booting; echo '##kindling[job-start id={id}]'; exit 0", request.VmId],
                request.Workspace.Directory, request.Workspace.SerialFifoPath, "/dev/null");
            var handle = new ProcessVmHandle(p);
            onSpawned(handle.Pid);
            return Task.FromResult<IVmHandle>(handle);
        }
    }
}
