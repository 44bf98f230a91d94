using System.Diagnostics;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// Job work directories on a tiny tmpfs that is full: the overlay (a real mkfs.ext4, from an images directory)
/// cannot be built, so that job fails with "disk full" in its reason; the runner keeps going and, once space is
/// freed, the next job runs.
/// </summary>
public sealed class DiskFullTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [RootFact]
    public async Task Run_DiskFullWhileBuildingOverlay_JobFailsWithReasonNextJobRuns()
    {
        string images = Directory.CreateTempSubdirectory("kindling-images-").FullName;
        File.WriteAllBytes(Path.Combine(images, DirectoryImageProvider.Kernel), []);
        File.WriteAllBytes(Path.Combine(images, DirectoryImageProvider.Rootfs), []);
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.Merge(RunnerHarness.LocalTenant(0, "acme"),
            new() { ["Kindling:Launcher:ImagesDirectory"] = images }), forge);
        string jobs = Directory.CreateDirectory(Path.Combine(h.StateDirectory, "jobs")).FullName;
        await RunAsync("mount", "-t", "tmpfs", "-o", "size=8m", "kindling-full", jobs);
        try
        {
            string filler = Path.Combine(jobs, "filler");
            FillUp(filler);

            string full = forge.Submit(Specs.Steps("first", ("x", "echo one")), Specs.Labels);
            await h.RunAllAsync(Ct);
            JobRecord failed = h.Store.FindByForgeJob("local", full)!;
            Assert.Equal(JobState.Cleaned, failed.State);
            JobTransition why = Assert.Single(h.Store.Transitions(failed.Id), t => t.To == JobState.Failed);
            Assert.Contains("disk full while building the overlay", why.Reason);
            Assert.Equal(ForgeJobResult.Failed, forge.ResultOf(full));
            Assert.Empty(h.Launcher.Requests); // no VM was started for it
            Assert.False(Directory.Exists(failed.WorkDir));

            File.Delete(filler);
            string next = forge.Submit(Specs.Steps("second", ("x", "echo two")), Specs.Labels);
            await h.RunAllAsync(Ct);
            JobRecord ok = h.Store.FindByForgeJob("local", next)!;
            Assert.Equal(JobState.Cleaned, ok.State);
            Assert.Contains(h.Store.Transitions(ok.Id), t => t.To == JobState.Succeeded);
            Assert.Equal(Path.Combine(ok.WorkDir!, DirectoryImageProvider.OverlayFile),
                h.Launcher.Requests.Single().VmConfig.Drives[1].PathOnHost);
            Assert.Empty(Directory.GetFileSystemEntries(jobs));
        }
        finally
        {
            await RunAsync("umount", "-l", jobs);
            Directory.Delete(images, recursive: true);
        }
    }

    private static void FillUp(string path)
    {
        var chunk = new byte[64 * 1024];
        try
        {
            using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 0);
            while (true)
            {
                f.Write(chunk);
            }
        }
        catch (IOException e) when (DiskFullException.Indicates(e))
        {
            // full
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        using Process p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true, UseShellExecute = false })!;
        string err = await p.StandardError.ReadToEndAsync(Ct);
        await p.WaitForExitAsync(Ct);
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)} failed: {err}");
    }
}
