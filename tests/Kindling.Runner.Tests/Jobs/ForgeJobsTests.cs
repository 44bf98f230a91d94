using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Jobs;

public sealed class ForgeJobsTests
{
    private static JobRecord Record(JobState state) => new()
    {
        Id = 42, Tenant = "acme", Forge = "github", ForgeJobId = "9001", Repository = "acme/app", Name = "build",
        Labels = ["self-hosted"], State = state, Attempt = 1, CreatedAt = DateTimeOffset.UnixEpoch, UpdatedAt = DateTimeOffset.UnixEpoch,
    };

    [Fact]
    public void ForgeRef_Record_CarriesForgeIdRepositoryAndJobId() =>
        Assert.Equal(new ForgeJobRef("9001", "acme/app", 42), Record(JobState.Running).ForgeRef());

    [Theory]
    [InlineData(JobState.Succeeded, ForgeJobResult.Succeeded)]
    [InlineData(JobState.Failed, ForgeJobResult.Failed)]
    [InlineData(JobState.Cancelled, ForgeJobResult.Cancelled)]
    [InlineData(JobState.TimedOut, ForgeJobResult.TimedOut)]
    public void ForgeResult_FinishedState_SameOutcome(JobState state, ForgeJobResult expected) =>
        Assert.Equal(expected, ForgeJobs.ForgeResult(state));

    [Theory]
    [InlineData(JobState.Queued)]
    [InlineData(JobState.Running)]
    [InlineData(JobState.Cleaned)]
    public void ForgeResult_NotAnOutcome_Null(JobState state) => Assert.Null(ForgeJobs.ForgeResult(state));

    [Fact]
    public async Task Submit_Spec_ForgeHandsItBackAsJson()
    {
        var forge = new LocalForge("acme");
        var spec = new JobSpec { Name = "build", Steps = [new StepSpec { Name = "make", Run = "make" }] };
        string id = forge.Submit(spec, ["self-hosted"], "acme/app");

        ForgeJob job = Assert.Single(await forge.PollQueuedAsync(TestContext.Current.CancellationToken));
        Assert.Equal((id, "acme/app", "build"), (job.ForgeJobId, job.Repository, job.Name));
        Assert.Equal(spec.ToJson(), job.SpecJson);
        Assert.Equal("make", JobSpec.FromJson(job.SpecJson!).Steps[0].Run);
    }

    [Fact]
    public void TryGetLocal_LocalAndUnknownTenant_OnlyTheLocalOneFound()
    {
        var registry = new ForgeRegistry([new LocalForge("local-tenant")]);
        Assert.True(registry.TryGetLocal("local-tenant", out LocalForge local));
        Assert.Equal("local-tenant", local.Tenant);
        Assert.False(registry.TryGetLocal("other", out _));
    }
}
