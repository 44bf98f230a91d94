using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>Warm starts through the daemon's job path (dispatcher, JobRunner, log pump) with the stub launcher.</summary>
public sealed class WarmStartJobTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-warm-job-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Run_SecondJobOfAKind_RestoredPhasesRecordedSecretsOnlyInItsOwnClone()
    {
        var stub = new StubVmLauncher(TimeSpan.FromMilliseconds(20));
        var store = new SnapshotStore(Path.Combine(_dir, "snapshots"), TimeProvider.System);
        using var golden = new GoldenSnapshot(stub, stub, store, new PlaceholderImageProvider(Path.Combine(_dir, "golden-images")), new NoTapManager(), TimeSpan.FromMinutes(1));
        var warm = new WarmStarts(stub, stub, store, golden, TimeProvider.System, NullLogger<WarmStarts>.Instance);
        LocalForge forge = Specs.Local("acme");
        await using var h = new RunnerHarness(RunnerHarness.LocalTenant(0, "acme", secrets: ("API_KEY", "first-secret")), s => s.AddSingleton<IVmLauncher>(warm), forge);

        string first = forge.Submit(Specs.Steps("build", ("Say", "echo one; echo key=$API_KEY")), Specs.Labels);
        await h.RunAllAsync(Ct);
        await warm.Idle.WaitAsync(TimeSpan.FromMinutes(1), Ct);
        string second = forge.Submit(Specs.Steps("build", ("Say", "echo two"), ("Again", "echo three")), Specs.Labels);
        await h.RunAllAsync(Ct);

        JobRecord cold = h.Store.FindByForgeJob("local", first)!, restored = h.Store.FindByForgeJob("local", second)!;
        Assert.Equal(JobState.Cleaned, restored.State);
        Assert.Equal(ForgeJobResult.Succeeded, forge.ResultOf(second));
        IReadOnlyList<JobPhase> coldPhases = JobPhases.Load(JobPhases.PathFor(h.StateDirectory, cold.Id));
        IReadOnlyList<JobPhase> warmPhases = JobPhases.Load(JobPhases.PathFor(h.StateDirectory, restored.Id));
        Assert.Equal(["boot", "job received", "first step", "last step", "reset"], coldPhases.Select(p => p.Name));
        Assert.Equal(["restore", "job received", "first step", "last step", "reset"], warmPhases.Select(p => p.Name));
        Assert.True(warmPhases.Zip(warmPhases.Skip(1)).All(p => p.First.AtMs <= p.Second.AtMs), JobPhases.Summary(warmPhases));
        string log = await File.ReadAllTextAsync(restored.LogPath!, Ct);
        Assert.Contains("kindling: generation 1, clock @", log, StringComparison.Ordinal);
        Assert.Contains("three", log, StringComparison.Ordinal);
        Assert.DoesNotContain("stub guest: booting", log, StringComparison.Ordinal);
        SnapshotStatus snapshot = Assert.Single(store.List());
        Assert.DoesNotContain("first-secret", File.ReadAllText(Path.Combine(_dir, "snapshots", snapshot.Hash, "state")), StringComparison.Ordinal);
        Assert.Equal(1, snapshot.Uses);
    }
}
