using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>What JobRunner does with the replay parts of a spec: its workspace snapshot and its secret recipes.</summary>
public sealed class JobRunnerReplayTests : IDisposable
{
    private readonly string _workspace = Directory.CreateTempSubdirectory("kindling-ws-").FullName;
    private readonly List<string[]> _staged = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private RunnerHarness Harness(LocalForge forge, params (string, string)[] secrets) =>
        new(RunnerHarness.LocalTenant(0, "acme", secrets: secrets), s => s.AddSingleton<IImageProvider>(sp => new Recorder(
            new PlaceholderImageProvider(Path.Combine(Path.GetTempPath(), "kindling-placeholder-images")), _staged)), forge);

    [Fact]
    public async Task Run_SpecWithWorkspace_StagedForTheOverlayThenReleased()
    {
        Directory.CreateDirectory(Path.Combine(_workspace, "src"));
        await File.WriteAllTextAsync(Path.Combine(_workspace, "src", "a.txt"), "a", Ct);
        File.CreateSymbolicLink(Path.Combine(_workspace, "link"), "src/a.txt");
        LocalForge forge = Specs.Local("acme");
        await using RunnerHarness h = Harness(forge);
        string fid = forge.Submit(Specs.Steps("ws", ("Say", "echo hi")) with { Workspace = _workspace }, Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.Equal(JobState.Cleaned, job.State);
        Assert.Equal(0, job.ExitCode);
        Assert.Equal(["link", Path.Combine("src", "a.txt")], Assert.Single(_staged));
        Assert.False(Directory.Exists(job.WorkDir));
        Assert.True(File.Exists(Path.Combine(_workspace, "src", "a.txt"))); // the snapshot stays for reruns
    }

    [Fact]
    public async Task Run_SpecWorkspaceGone_FailsNamingIt()
    {
        LocalForge forge = Specs.Local("acme");
        await using RunnerHarness h = Harness(forge);
        string gone = Path.Combine(_workspace, "deleted");
        string fid = forge.Submit(Specs.Steps("ws", ("Say", "echo hi")) with { Workspace = gone }, Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        JobTransition failed = h.Store.Transitions(job.Id).Single(t => t.To == JobState.Failed);
        Assert.Equal($"preparing failed: the job's workspace {gone} no longer exists (deleted?); replay the workflow instead of rerunning this job", failed.Reason);
        Assert.Empty(h.Launcher.Requests);
    }

    [Fact]
    public async Task Run_SecretRecipes_DerivedIntoMmdsAndMasked()
    {
        LocalForge forge = Specs.Local("acme");
        await using RunnerHarness h = Harness(forge, ("TOKEN", "tok-123456"));
        JobSpec spec = Specs.Steps("s", ("Show", "echo auth=$AUTH")) with
        {
            SecretRefs = new Dictionary<string, IReadOnlyList<SecretPart>> { ["AUTH"] = [SecretPart.FromText("Bearer "), SecretPart.FromSecret("TOKEN")] },
        };
        string fid = forge.Submit(spec, Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.True(job.ExitCode == 0, string.Join("; ", h.Store.Transitions(job.Id).Select(t => t.Reason)));
        Assert.Equal("Bearer tok-123456", h.Launcher.Requests.Single().Mmds["kindling"]!["secrets"]!["AUTH"]!.GetValue<string>());
        Assert.Contains("auth=***", await File.ReadAllTextAsync(job.LogPath!, Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_SecretRecipeNamesMissingSecret_FailsBeforeBoot()
    {
        LocalForge forge = Specs.Local("acme");
        await using RunnerHarness h = Harness(forge);
        JobSpec spec = Specs.Steps("s", ("Show", "echo x")) with
        {
            SecretRefs = new Dictionary<string, IReadOnlyList<SecretPart>> { ["AUTH"] = [SecretPart.FromSecret("TOKEN")] },
        };
        string fid = forge.Submit(spec, Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord job = h.Store.FindByForgeJob("local", fid)!;
        Assert.Contains(h.Store.Transitions(job.Id), t => t.To == JobState.Failed &&
            t.Reason == "preparing failed: the job reads secret(s) TOKEN, which tenant acme does not have; add them under Kindling:Tenants:0:Secrets");
        Assert.Empty(h.Launcher.Requests);
    }

    public void Dispose() => Directory.Delete(_workspace, recursive: true);

    private sealed class Recorder(IImageProvider inner, List<string[]> staged) : IImageProvider
    {
        public Task<GuestImages> EnsureImagesAsync(IProgress<ImageProgress>? progress, CancellationToken ct) => inner.EnsureImagesAsync(progress, ct);

        public Task<string> CreateOverlayAsync(string workDir, CancellationToken ct)
        {
            string ws = Path.Combine(workDir, ImageStoreProvider.WorkspaceFolder);
            lock (staged)
            {
                staged.Add(!Directory.Exists(ws) ? [] : [.. new DirectoryInfo(ws).EnumerateFileSystemInfos("*", SearchOption.AllDirectories)
                    .Where(f => f is FileInfo || f.LinkTarget is not null).Select(f => Path.GetRelativePath(ws, f.FullName)).Order(StringComparer.Ordinal)]);
            }

            return inner.CreateOverlayAsync(workDir, ct);
        }

        public void DeleteOverlay(string overlayPath) => inner.DeleteOverlay(overlayPath);
    }
}
