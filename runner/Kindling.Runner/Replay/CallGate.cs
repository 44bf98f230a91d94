using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// The <c>if:</c> of the jobs that call a reusable workflow, for a job of the callee. GitHub decides a call's
/// <c>if:</c> once the calling job's needs have ended, with the <c>github</c>, <c>inputs</c>, <c>vars</c> and
/// <c>needs</c> contexts (no matrix); without a status function it means <c>success() &amp;&amp; (if)</c>, so a call
/// whose needs did not all succeed is skipped unless its <c>if:</c> says <c>always()</c> or <c>failure()</c>. A
/// skipped call runs none of its jobs; calls nest, and every calling job above a job must let it run.
/// </summary>
internal static class CallGate
{
    /// <summary>
    /// Why a job of <paramref name="call"/> does not run, or null when every calling job above it allows it.
    /// <paramref name="results"/> gives an ended job's summary by its id in the expanded workflow; null plans ahead
    /// (a dry run): every need counts as succeeded, its outputs placeholders.
    /// </summary>
    public static string? SkipReason(Workflow top, ReusableCall? call, ReplayInputs inputs, Func<string, JobSummary?>? results)
    {
        if (call is null)
        {
            return null;
        }

        ExprValue secrets = ExprValue.Object([]);
        foreach (ReusableCall c in call.Chain)
        {
            WorkflowJob caller = c.Caller;
            string outer = c.Parent?.FullPrefix ?? "";
            IReadOnlyList<(string Id, JobSummary Summary)> needs = ReusableCallContexts.CallerNeeds(top, c, results);
            bool needsFailed = needs.Any(n => n.Summary.Result != JobResults.Success);
            if (caller.If is null && !needsFailed)
            {
                continue;
            }

            string fullId = outer + caller.Id;
            ExprValue github = ReplayContexts.GitHub(top, fullId, inputs);
            (ExprValue callerInputs, _) = ReusableCallContexts.For(top, c.Parent, inputs with { Results = results }, github, secrets);
            var ctx = new ExprContext
            {
                Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
                {
                    ["github"] = github,
                    ["inputs"] = callerInputs,
                    ["vars"] = ExprValue.Object(inputs.Vars.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value)))),
                    ["needs"] = WorkflowRun.NeedsContext(needs),
                },
                Unavailable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
                {
                    ["matrix"] = "GitHub decides a job's if: before its matrix is expanded",
                    ["secrets"] = "GitHub does not allow the secrets context in a job's if:",
                },
                Where = $"{top.FileName}: jobs.{fullId}: if",
            };
            StepConditions condition = StepConditions.Evaluate(caller.If, ctx);
            if (needsFailed ? !condition.WhenFailed : !condition.WhenOk)
            {
                return caller.If is { } cond
                    ? $"the calling job {fullId}'s if: ({cond.Trim()}) is false"
                    : $"a job the calling job {fullId} needs did not succeed";
            }
        }

        return null;
    }
}
