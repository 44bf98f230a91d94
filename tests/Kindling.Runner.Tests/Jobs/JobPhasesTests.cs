using Kindling.Runner.Jobs;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Jobs;

public sealed class JobPhasesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-phases-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Observe_JobWithTwoSteps_PhasesInOrderWithTheLastStepEndSavedAndLoaded()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var phases = new JobPhases(time, null);
        time.Advance(TimeSpan.FromMilliseconds(40));
        phases.Mark("restore");
        time.Advance(TimeSpan.FromMilliseconds(5));
        phases.OnJobStart();
        time.Advance(TimeSpan.FromMilliseconds(1));
        phases.OnStepStart(0, "a");
        time.Advance(TimeSpan.FromMilliseconds(100));
        phases.OnStepEnd(0, 0, 0.1);
        phases.OnStepStart(1, "b");
        time.Advance(TimeSpan.FromMilliseconds(200));
        phases.OnStepEnd(1, 0, 0.2);
        time.Advance(TimeSpan.FromMilliseconds(10));
        phases.Mark("reset");
        string path = Path.Combine(_dir, "1.phases.json");

        await phases.SaveAsync(path);
        IReadOnlyList<JobPhase> loaded = JobPhases.Load(path);

        Assert.Equal(["restore", "job received", "first step", "last step", "reset"], loaded.Select(p => p.Name));
        Assert.Equal([40, 45, 46, 346, 356], loaded.Select(p => Math.Round(p.AtMs)));
        Assert.Equal("restore 40 ms · job received +5 ms · first step +1 ms · last step +300 ms · reset +10 ms", JobPhases.Summary(loaded));
    }

    [Fact]
    public void Load_NoFile_None() => Assert.Empty(JobPhases.Load(Path.Combine(_dir, "missing.json")));
}
