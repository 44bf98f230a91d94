using Kindling.Runner.Launch;
using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay;

/// <summary>
/// The outcomes of a replayed job's steps as they end, by the step's number in the workflow job: one set of rules for
/// the step-time <c>steps</c> context (<see cref="ReplayStepSource"/>, updated once per finished step) and for the log
/// read back after the job (<see cref="JobLogOutcome"/>). A step that ran has outcome success or failure by its exit
/// code (cancelled when the job's cancellation ended it) and conclusion success when continue-on-error tolerates its
/// failure; a skipped step is skipped; only a workflow step's own $GITHUB_OUTPUT gives its outputs (the steps of a
/// composite action give it the action's outputs, a nested composite's flowing up through the actions that use it).
/// <paramref name="steps"/> are the job's steps by the guest's number, the plan's unless actions were loaded at run
/// time (<see cref="ReplayStepSource.Steps"/>, a list that grows as the job runs).
/// </summary>
public sealed class StepOutcomes(ReplayJobPlan plan, IReadOnlyList<PlannedStep> steps)
{
    public StepOutcomes(ReplayJobPlan plan)
        : this(plan, plan.Steps)
    {
    }

    private readonly Dictionary<int, StepOutcome> _steps = [];
    private readonly Dictionary<string, ExprValue> _context = new(StringComparer.Ordinal);
    private readonly Dictionary<int, string> _ids = plan.Job.Steps.Where(s => s.Id is not null).ToDictionary(s => s.Number, s => s.Id!);

    /// <summary>By the step's 1-based number in the workflow job.</summary>
    public IReadOnlyDictionary<int, StepOutcome> Steps => _steps;

    /// <summary>Plan step <paramref name="n"/> ran and ended with <paramref name="exitCode"/>; <paramref name="cancelled"/>: the job's cancellation ended it.</summary>
    public void Ended(int n, int exitCode, bool continueOnError, bool cancelled = false)
    {
        if (Number(n) is not { } number)
        {
            return;
        }

        string outcome = cancelled ? JobResults.Cancelled : exitCode == 0 ? JobResults.Success : JobResults.Failure;
        string conclusion = outcome == JobResults.Failure && continueOnError ? JobResults.Success : outcome;
        Set(number, new StepOutcome(outcome, conclusion, _steps.GetValueOrDefault(number)?.Outputs ?? []));
    }

    /// <summary>Plan step <paramref name="n"/> was skipped (its if: was false).</summary>
    public void Skipped(int n)
    {
        if (Number(n) is { } number)
        {
            Set(number, new StepOutcome(JobResults.Skipped, JobResults.Skipped, []));
        }
    }

    /// <summary>
    /// Plan step <paramref name="n"/>'s $GITHUB_OUTPUT text (its step-files line), after its end, and what its
    /// <c>::set-output</c> commands set (<paramref name="commands"/>; the file's entries come after them, so a name in both is the file's).
    /// </summary>
    public void Files(int n, string output, IReadOnlyList<KeyValuePair<string, string>>? commands = null)
    {
        if (Number(n) is { } number && !steps[n].PartOfAction && _steps.TryGetValue(number, out StepOutcome? ended))
        {
            Set(number, ended with { Outputs = [.. commands ?? [], .. GuestCommandFiles.ParseEntries(output)] });
        }
        else if (Number(n) is { } partOf && steps[n].Composite is { } part && _steps.TryGetValue(partOf, out StepOutcome? now))
        {
            // A composite action's outputs read its own steps' outputs: evaluated again as each of its steps ends; a
            // nested action's outputs are its step's in the action that uses it, and so on up to the workflow step.
            (CompositeOutputs scope, string? id) = (part.Outputs, part.Id);
            IReadOnlyList<KeyValuePair<string, string>> values = [.. commands ?? [], .. GuestCommandFiles.ParseEntries(output)];
            while (true)
            {
                if (!_parts.TryGetValue(scope, out Dictionary<string, StepOutcome>? inner))
                {
                    _parts[scope] = inner = new(StringComparer.Ordinal);
                }

                if (id is not null)
                {
                    inner[id] = now with { Outputs = values };
                }

                if (scope.Parent is null && scope.Templates.Count == 0)
                {
                    return; // the workflow step's action declares no outputs
                }

                values = CompositeValues(scope, inner);
                if (scope.Parent is not { } up)
                {
                    Set(partOf, now with { Outputs = values });
                    return;
                }

                (scope, id) = up;
            }
        }
    }

    private readonly Dictionary<CompositeOutputs, Dictionary<string, StepOutcome>> _parts = new(ReferenceEqualityComparer.Instance);

    private static IReadOnlyList<KeyValuePair<string, string>> CompositeValues(CompositeOutputs outputs, Dictionary<string, StepOutcome> inner)
    {
        ExprContext ctx = outputs.Context with
        {
            Contexts = new Dictionary<string, ExprValue>(outputs.Context.Contexts, StringComparer.OrdinalIgnoreCase)
            {
                ["steps"] = ExprValue.Object(inner.Select(kv => KeyValuePair.Create(kv.Key, Value(kv.Value)))),
            },
            Unavailable = outputs.Context.Unavailable.Where(kv => kv.Key != "steps").ToDictionary(StringComparer.OrdinalIgnoreCase),
        };
        List<KeyValuePair<string, string>> values = [];
        foreach ((string name, string template) in outputs.Templates)
        {
            try
            {
                values.Add(KeyValuePair.Create(name, ReplayPlanner.Text(Template.Evaluate(template, ctx with { Where = $"{ctx.Where}.{name}" }))));
            }
            catch (ExpressionException)
            {
                // an output that cannot be evaluated yet (it reads a later step of the action) stays unset for now
            }
        }

        return values;
    }

    /// <summary>A composite action's own <c>steps</c> context now: its steps with an id that have ended (a nested action's with its outputs).</summary>
    public ExprValue Scope(CompositeOutputs action) =>
        ExprValue.Object(_parts.TryGetValue(action, out Dictionary<string, StepOutcome>? inner) ? inner.Select(kv => KeyValuePair.Create(kv.Key, Value(kv.Value))) : []);

    /// <summary>The <c>steps</c> context now: the workflow steps with an id that have ended.</summary>
    public ExprValue Context() => ExprValue.Object(plan.Job.Steps.Where(s => s.Id is not null && _context.ContainsKey(s.Id)).Select(s => KeyValuePair.Create(s.Id!, _context[s.Id!])));

    private int? Number(int n) => n >= 0 && n < steps.Count ? steps[n].Number : null;

    private void Set(int number, StepOutcome o)
    {
        _steps[number] = o;
        if (_ids.TryGetValue(number, out string? id))
        {
            _context[id] = Value(o);
        }
    }

    /// <summary><c>steps.&lt;id&gt;</c> for an outcome.</summary>
    internal static ExprValue Value(StepOutcome o) => ExprValue.Object(
    [
        new("outputs", ExprValue.Object(o.Outputs.Select(kv => KeyValuePair.Create(kv.Key, ExprValue.String(kv.Value))))),
        new("outcome", ExprValue.String(o.Outcome)), new("conclusion", ExprValue.String(o.Conclusion)),
    ]);
}
