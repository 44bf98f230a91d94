using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class WorkflowSetTests
{
    [Fact]
    public void TriggeredBy_Event_KeepsOnlyWorkflowsWhoseOnNamesIt()
    {
        WorkflowSet all = WorkflowSet.Load(ReplayCorpus.Workflows);

        WorkflowSet dispatch = all.TriggeredBy("workflow_dispatch");

        Assert.NotEmpty(dispatch.Workflows);
        Assert.True(dispatch.Workflows.Count < all.Workflows.Count);
        Assert.All(dispatch.Workflows, w => Assert.Contains("workflow_dispatch", w.Events));
    }

    [Fact]
    public void TriggeredBy_EventNoWorkflowHas_ErrorListsTheirEvents()
    {
        WorkflowSet set = WorkflowSet.Load(Path.Combine(ReplayCorpus.Workflows, "dispatch.yml"));

        var e = Assert.Throws<ReplayException>(() => set.TriggeredBy("push"));

        Assert.StartsWith("--event-name push: no workflow is triggered by push (dispatch.yml runs on workflow_dispatch)", e.Message, StringComparison.Ordinal);
    }
}
