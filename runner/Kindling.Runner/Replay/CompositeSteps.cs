using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// A composite action's steps as parts of its workflow step: its number, its env (below theirs), its if: as well as
/// theirs, the <c>inputs</c> context from <c>with:</c> and <c>github.action_path</c>. Each part also carries how to
/// plan it again at step time (<see cref="CompositePart.Again"/>): its expressions then read the action's own steps
/// context (the outputs, outcome and conclusion of the action's earlier steps, a nested action's outputs among them)
/// and the $GITHUB_ENV entries written so far.
/// </summary>
internal static class CompositeSteps
{
    public static IReadOnlyList<PlannedStep> Plan(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext ctx, StepConditions outer, ActionManifest action,
        ExprValue actionInputs, ActionSteps.Location at, GuestSecretNames secretNames, ReplayInputs inputs, List<string> warnings, int depth,
        IReadOnlyDictionary<string, string>? written)
    {
        ExprValue github = ctx.Contexts["github"];
        (string repository, string @ref) = ActionSteps.RefOf(s.Uses!);
        var inner = ctx with
        {
            Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase)
            {
                ["inputs"] = actionInputs,
                ["github"] = ExprValue.Object(github.Members.Where(kv => kv.Key is not ("action_path" or "action_ref" or "action_repository"))
                    .Append(KeyValuePair.Create("action_path", ExprValue.String(at.GuestDirectory)))
                    .Append(KeyValuePair.Create("action_ref", ExprValue.String(@ref)))
                    .Append(KeyValuePair.Create("action_repository", ExprValue.String(repository)))),
                ["steps"] = ExprValue.Object([]), // the action's own steps, none of which has run yet
            },
        };
        IReadOnlyList<KeyValuePair<string, ExprValue>> env = ctx.Contexts.TryGetValue("env", out ExprValue? e) ? [.. e.Members] : [];
        var outputs = new CompositeOutputs(action.Outputs, inner with { Where = $"{ctx.Where}: {s.Uses} outputs" });
        List<PlannedStep> steps = [];
        foreach (WorkflowStep a in action.Steps)
        {
            WorkflowStep part = a with { Number = s.Number, Env = [.. s.Env.Where(kv => a.Env.All(x => x.Key != kv.Key)), .. a.Env], Mark = s.Mark };
            if (a.If is { } innerIf && !outer.WhenFailed && ExprTree.CallsStatusFunction(Template.ParseCondition(innerIf, ctx.Where)))
            {
                warnings.Add($"step {s.Number}: {s.Uses} step {a.Number}'s if: ({innerIf.Trim()}) is taken together with the step's own if:, " +
                             "which runs it only while the job has not failed: a failure() inside the action does not run");
            }

            ExprContext partCtx = inner with { Where = $"{ctx.Where}: {s.Uses} step {a.Number}" };
            PlannedStep Finish(PlannedStep p) => p with
            {
                StageAction = p.StageAction ?? (at.StageAs is { } stage ? (at.HostDirectory, stage) : null),
                PartOfAction = true,
                // pre and post steps run under pre-if / post-if alone (the composite's if: holds for its main steps)
                Spec = WithActionPath(p.Stage != PlannedStepStage.Main ? p.Spec : p.Spec with { If = StepConditions.And(outer, StepConditions.FromAgent(p.Spec.If)).AgentCondition }),
            };

            // At step time: this part again, over the action's steps context and $GITHUB_ENV then (the step's own env still wins).
            PlannedStep Again(ExprValue stepsNow, IReadOnlyList<KeyValuePair<string, string>> envWritten)
            {
                var envNow = new List<KeyValuePair<string, ExprValue>>(env);
                foreach ((string k, string v) in envWritten.Where(w => s.Env.All(x => x.Key != w.Key)))
                {
                    envNow.RemoveAll(kv => kv.Key == k);
                    envNow.Add(KeyValuePair.Create(k, ExprValue.String(v)));
                }

                ExprContext now = partCtx with
                {
                    Contexts = new Dictionary<string, ExprValue>(partCtx.Contexts, StringComparer.OrdinalIgnoreCase) { ["steps"] = stepsNow, ["env"] = ExprValue.Object(envNow) },
                };
                return Finish(StepPlanner.PlanAll(wf, job, part, now, envNow, secretNames, inputs, [], depth + 1, written).Single(p => p.Stage == PlannedStepStage.Main));
            }

            foreach (PlannedStep p in StepPlanner.PlanAll(wf, job, part, partCtx, env, secretNames, inputs, warnings, depth + 1, written))
            {
                CompositePart own;
                if (p.Composite is { } nested)
                {
                    // a nested composite's steps keep their own part (its outputs are its step's, in this action's steps
                    // context); planned again they are this action's part as well (its if:, its stage)
                    nested.Outputs.NestIn(outputs, a.Id);
                    own = nested.Again is { } theirs ? nested with { Again = (st, w) => Finish(theirs(st, w)) } : nested;
                }
                else
                {
                    own = new CompositePart(a.Id, outputs) { Again = p.Kind == PlannedStepKind.Run && p.Stage == PlannedStepStage.Main ? Again : null };
                }

                steps.Add(Finish(p) with { Composite = own });
            }
        }

        if (steps.Count == 0)
        {
            warnings.Add($"step {s.Number}: {s.Uses} has no steps");
        }
        else if (at.StageAs is { } stageAs && steps[0].StageAction is null)
        {
            steps[0] = steps[0] with { StageAction = (at.HostDirectory, stageAs) };
        }

        return steps;

        // As GitHub's runner: a composite's run: steps have $GITHUB_ACTION_PATH, the action's directory (a nested action's steps their own).
        StepSpec WithActionPath(StepSpec spec) => spec.Env.ContainsKey(ActionPath) ? spec
            : spec with { Env = new Dictionary<string, string>(spec.Env, StringComparer.Ordinal) { [ActionPath] = at.GuestDirectory } };
    }

    private const string ActionPath = "GITHUB_ACTION_PATH";
}
