using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

public sealed class ReplayContextsTests
{
    private static ReplayInputs CallInputs(params (string, string)[] given) => ReplayCorpus.Inputs() with
    {
        EventName = "workflow_call",
        Inputs = [.. given.Select(g => KeyValuePair.Create(g.Item1, g.Item2))],
    };

    [Fact]
    public void Inputs_DefaultIsAnExpression_EvaluatedAndTyped()
    {
        ExprValue inputs = ReplayContexts.Inputs(ReplayCorpus.Load("call-defaults.yml"), CallInputs());

        Assert.Equal(ExprKind.Number, inputs.Members["retries"].Kind);
        Assert.Equal("3", inputs.Members["retries"].ToString());
        Assert.Equal("from octo-org/app", inputs.Members["origin"].ToString());
        Assert.Equal("stable", inputs.Members["channel"].ToString());
    }

    [Fact]
    public void Inputs_GivenValue_WinsOverTheExpressionDefault() =>
        Assert.Equal("5", ReplayContexts.Inputs(ReplayCorpus.Load("call-defaults.yml"), CallInputs(("retries", "5"))).Members["retries"].ToString());

    [Fact]
    public void Plan_CallDefaults_ScriptSeesEvaluatedDefaults()
    {
        Workflow wf = ReplayCorpus.Load("call-defaults.yml");

        string script = ReplayPlanner.Plan(wf, "show", CallInputs()).Single().Spec.Steps[0].Run;

        Assert.Contains("retries=3 is-three=true", script, StringComparison.Ordinal);
        Assert.Contains("channel=stable origin=from octo-org/app", script, StringComparison.Ordinal);
    }
}
