using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay;

/// <summary>
/// An <c>if:</c> reduced to what the guest agent understands. The agent knows one bit of state, whether an earlier
/// step failed, so any expression over the replay's (static) contexts is a function of that bit: evaluated for both
/// values it is always(), success(), failure() or never (the agent's cancelled(), which a replay never is).
/// As on GitHub, an expression without a status function means <c>success() &amp;&amp; (expression)</c>.
/// </summary>
public sealed record StepConditions(bool WhenOk, bool WhenFailed)
{
    public const string Success = "success()";
    public const string Failure = "failure()";
    public const string Always = "always()";
    /// <summary>The agent's "never": cancelled() is false in a job nobody cancels.</summary>
    public const string Never = "cancelled()";

    /// <summary>Whether the job (or a step after only successes) runs.</summary>
    public bool Succeeded => WhenOk;

    public string AgentCondition => (WhenOk, WhenFailed) switch
    {
        (true, true) => Always,
        (true, false) => Success,
        (false, true) => Failure,
        _ => Never,
    };

    public static StepConditions Evaluate(string? condition, ExprContext ctx)
    {
        if (condition is null || condition.Trim().Length == 0)
        {
            return new StepConditions(true, false);
        }

        Expr e = Template.ParseCondition(condition, ctx.Where);
        if (!ExprTree.CallsStatusFunction(e))
        {
            e = new BinaryExpr(BinaryOp.And, new CallExpr("success", []), e);
        }

        return new StepConditions(
            ExprEvaluator.Evaluate(e, ctx.WithStatus(failed: false)).IsTruthy,
            ExprEvaluator.Evaluate(e, ctx.WithStatus(failed: true)).IsTruthy);
    }

    /// <summary>The agent condition back as the two bits.</summary>
    public static StepConditions FromAgent(string condition) => condition switch
    {
        Always => new StepConditions(true, true),
        Failure => new StepConditions(false, true),
        Never => new StepConditions(false, false),
        _ => new StepConditions(true, false),
    };

    /// <summary>Both conditions (a composite action's step runs when its own if: and the workflow step's hold).</summary>
    public static StepConditions And(StepConditions a, StepConditions b) => new(a.WhenOk && b.WhenOk, a.WhenFailed && b.WhenFailed);
}
