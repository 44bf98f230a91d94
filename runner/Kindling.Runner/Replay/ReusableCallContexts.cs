using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// The <c>inputs</c> and <c>secrets</c> contexts of a job expanded from a reusable workflow: the callee's
/// <c>on.workflow_call.inputs</c> (defaults, types, required) given the calling job's <c>with:</c>, and its
/// <c>secrets:</c> (a mapping, or <c>inherit</c>), both evaluated in the caller's own contexts (a nested call's
/// caller is itself a callee).
/// </summary>
public static class ReusableCallContexts
{
    /// <summary>(inputs, secrets) for a job of <paramref name="call"/>; with no call, the top workflow's.</summary>
    public static (ExprValue Inputs, ExprValue Secrets) For(Workflow top, ReusableCall? call, ReplayInputs inputs, ExprValue github, ExprValue topSecrets)
    {
        if (call is null)
        {
            return (ReplayContexts.Inputs(top, inputs, github), topSecrets);
        }

        (ExprValue callerInputs, ExprValue callerSecrets) = For(top, call.Parent, inputs, github, topSecrets);
        ExprValue vars = ExprValue.Object(inputs.Vars.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value))));
        string where = $"{top.FileName}: jobs.{call.Caller.Id}";
        var ctx = new ExprContext
        {
            Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
            {
                ["github"] = github, ["inputs"] = callerInputs, ["secrets"] = callerSecrets, ["vars"] = vars,
                ["matrix"] = call.Instance?.Combination.ToContext() ?? ExprValue.Object([]),
                ["strategy"] = Strategy(call.Instance),
                ["needs"] = WorkflowRun.NeedsContext(CallerNeeds(top, call, inputs.Results)),
            },
            Where = where,
        };

        Workflow callee = call.Callee;
        foreach ((string name, _) in call.Caller.With)
        {
            if (!callee.CallInputs.Any(i => i.Name.Equals(name, StringComparison.OrdinalIgnoreCase)))
            {
                throw new ReplayException($"{where}.with.{name}: {callee.FileName} has no such input (its on.workflow_call.inputs: " +
                                          $"{(callee.CallInputs.Count == 0 ? "none" : string.Join(", ", callee.CallInputs.Select(i => i.Name)))}); GitHub refuses the call");
            }
        }

        var defaultsCtx = ctx with { Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase) { ["github"] = github, ["vars"] = vars } };
        List<KeyValuePair<string, ExprValue>> values = [];
        foreach (CallInput input in callee.CallInputs)
        {
            string? given = call.Caller.With.FirstOrDefault(kv => kv.Key.Equals(input.Name, StringComparison.OrdinalIgnoreCase)).Value;
            ExprValue v = given is not null ? Template.Evaluate(given, ctx with { Where = $"{where}.with.{input.Name}" })
                : input.Default is { Kind: ExprKind.String } d && Template.HasExpressions(d.AsString)
                    ? Template.Evaluate(d.AsString, defaultsCtx with { Where = $"{callee.FileName}: on.workflow_call.inputs.{input.Name}.default" })
                : input.Default is { } plain ? plain
                : input.Required ? throw new ReplayException($"{where}.with: {callee.FileName} requires the input '{input.Name}' " +
                                                             $"(on.workflow_call.inputs.{input.Name}.required); add {input.Name}: to the job's with:")
                : input.Type switch { "boolean" => ExprValue.False, "number" => ExprValue.Number(0), _ => ExprValue.String("") };
            values.Add(KeyValuePair.Create(input.Name, ReplayContexts.Typed(v, input.Type)));
        }

        ExprValue secrets = call.Caller.SecretsInherit ? callerSecrets
            : ExprValue.Object(call.Caller.Secrets.Select(kv => KeyValuePair.Create(kv.Key, AsSecret(Template.Evaluate(kv.Value, ctx with { Where = $"{where}.secrets.{kv.Key}" })))));
        return (ExprValue.Object(values), secrets);
    }

    /// <summary>
    /// The jobs the calling job of <paramref name="call"/> needs, by their ids in its own workflow, with their
    /// summaries: from <paramref name="results"/> once they have ended, else (planning ahead) succeeded with each
    /// output a placeholder naming where its value will come from.
    /// </summary>
    internal static IReadOnlyList<(string Id, JobSummary Summary)> CallerNeeds(Workflow top, ReusableCall call, Func<string, JobSummary?>? results)
    {
        string outer = call.Parent?.FullPrefix ?? "";
        return [.. call.Caller.Needs.Select(n => (n, results?.Invoke(outer + n) ?? new JobSummary(JobResults.Success,
            [.. (top.Jobs.FirstOrDefault(j => j.Id == outer + n)?.Outputs ?? []).Select(o => KeyValuePair.Create(o.Key, $"<needs.{n}.outputs.{o.Key}>"))], 0)))];
    }

    /// <summary>
    /// A value mapped to a callee's secret is a secret there, whatever it was made of: a literal or a plain
    /// expression is passed to the guest as a secret (its text as the recipe) and masked in the log like one.
    /// </summary>
    internal static ExprValue AsSecret(ExprValue v) =>
        v.IsSecret || v.ToString().Length == 0 ? v : ExprValue.SecretString(v.ToString(), [SecretPart.FromText(v.ToString())]);

    /// <summary>The <c>strategy</c> context of a call (GitHub's defaults for a call without a matrix).</summary>
    private static ExprValue Strategy(CallInstance? instance) => ExprValue.Object(
    [
        new("fail-fast", ExprValue.Bool(instance?.Strategy.FailFast ?? true)), new("job-index", ExprValue.Number(instance?.Index ?? 0)),
        new("job-total", ExprValue.Number(instance?.Total ?? 1)), new("max-parallel", ExprValue.Number(instance?.Strategy.MaxParallel ?? 1)),
    ]);
}
