using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// A replayed job's steps decided at step time (issue: expressions at step time). The plan made before boot fixed
/// the steps' order; here each <c>run:</c> step of the workflow is planned again when its turn comes, over the
/// contexts as they are then: <c>env</c> with what earlier steps wrote to <c>$GITHUB_ENV</c>, <c>steps.&lt;id&gt;</c>
/// with their outputs, outcome and conclusion, and the job's status (an earlier step failed, continue-on-error
/// aside). Its <c>if:</c> is decided here, so the agent gets <c>always()</c> (run it) or <c>cancelled()</c> (skip it).
/// Steps of a composite action and uses: stand-ins keep their planned spec; their if: is decided the same way.
/// </summary>
public sealed class ReplayStepSource(ReplayJobPlan plan) : IHostStepSource
{
    private readonly Dictionary<int, StepSpec> _handed = [];

    public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done)
    {
        if (n >= plan.Steps.Count)
        {
            return null;
        }

        bool failed = done.Any(r => r.ExitCode is { } e && e != 0 && !(_handed.TryGetValue(r.Number, out StepSpec? s) && s.ContinueOnError));
        PlannedStep planned = plan.Steps[n];
        StepSpec spec = planned.Spec;
        if (planned.Kind == PlannedStepKind.Run && !planned.PartOfAction && plan.Replan is { } replan &&
            plan.Job.Steps.FirstOrDefault(s => s.Number == planned.Number) is { } workflowStep)
        {
            try
            {
                spec = replan(workflowStep, StepsContext(done), EnvWritten(done)).Spec;
            }
            catch (ReplayException e)
            {
                throw new HostStepException(e.Message);
            }
            catch (ExpressionException e)
            {
                throw new HostStepException(e.Message);
            }
        }

        StepConditions cond = StepConditions.FromAgent(spec.If);
        bool run = failed ? cond.WhenFailed : cond.WhenOk;
        StepSpec handed = spec with { If = run ? StepConditions.Always : StepConditions.Never };
        _handed[n] = handed;
        return handed;
    }

    /// <summary>The <c>steps</c> context after <paramref name="done"/>: the workflow steps with an id that have ended.</summary>
    private ExprValue StepsContext(IReadOnlyList<HostStepResult> done)
    {
        var outcomes = new Dictionary<int, StepOutcome>();
        foreach (HostStepResult r in done)
        {
            PlannedStep p = plan.Steps[r.Number];
            if (r.Skipped)
            {
                outcomes[p.Number] = new StepOutcome(JobResults.Skipped, JobResults.Skipped, []);
                continue;
            }

            string outcome = r.ExitCode == 0 ? JobResults.Success : JobResults.Failure;
            bool tolerated = _handed.TryGetValue(r.Number, out StepSpec? s) && s.ContinueOnError;
            outcomes[p.Number] = new StepOutcome(outcome, outcome == JobResults.Failure && tolerated ? JobResults.Success : outcome,
                p.PartOfAction ? outcomes.GetValueOrDefault(p.Number)?.Outputs ?? [] : GuestCommandFiles.ParseEntries(r.Files.Output));
        }

        ExprValue all = new JobOutcome { Result = JobResults.Success, Steps = outcomes }.StepsContext(plan);
        return ExprValue.Object(all.Members.Where(kv => plan.Job.Steps.Any(s => s.Id == kv.Key && outcomes.ContainsKey(s.Number))));
    }

    /// <summary>What the steps in <paramref name="done"/> wrote to $GITHUB_ENV, in order (a later value wins).</summary>
    private static IReadOnlyList<KeyValuePair<string, string>> EnvWritten(IReadOnlyList<HostStepResult> done) =>
        [.. done.SelectMany(r => GuestCommandFiles.ParseEntries(r.Files.Env))];

    /// <summary>
    /// Plans a step before boot; a <c>run:</c> step whose expressions read the <c>steps</c> context and fail over its
    /// empty value then (<c>fromJSON(steps.a.outputs.v)</c>: no step has run yet) is planned when it runs instead,
    /// with a placeholder here and a note in the plan.
    /// </summary>
    internal static IReadOnlyList<PlannedStep> PlanOrDefer(WorkflowStep s, List<string> warnings, Func<IReadOnlyList<PlannedStep>> plan)
    {
        try
        {
            return plan();
        }
        catch (ExpressionException e) when (s.Run is not null && ReadsSteps(s))
        {
            string name = s.Name ?? "Run " + s.Run.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0);
            warnings.Add($"step {s.Number} is planned when it runs (its expressions read step outputs, which no step has before boot): {e.Message}");
            return [new PlannedStep { Number = s.Number, Name = name, Kind = PlannedStepKind.Run, IfSource = s.If, Spec = new StepSpec { Name = name, Run = "" } }];
        }
    }

    private static bool ReadsSteps(WorkflowStep s) =>
        ((string?[])[s.Run, s.If, s.Name, s.WorkingDirectory, .. s.Env.Select(kv => kv.Value)]).Any(t => t?.Contains("steps.", StringComparison.Ordinal) == true);

    /// <summary>
    /// Plans a workflow step again with the <c>steps</c> context and the $GITHUB_ENV entries so far (ReplayPlanner
    /// gives each plan one, over the job's own contexts, secrets and inputs).
    /// </summary>
    internal static PlannedStep Replan(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext stepCtx, IReadOnlyList<KeyValuePair<string, ExprValue>> jobEnv,
        ExprValue steps, IReadOnlyList<KeyValuePair<string, string>> envWritten, GuestSecretNames secretNames, ReplayInputs inputs)
    {
        var env = new List<KeyValuePair<string, ExprValue>>(jobEnv);
        foreach ((string k, string v) in envWritten)
        {
            env.RemoveAll(kv => kv.Key == k);
            env.Add(KeyValuePair.Create(k, ExprValue.String(v)));
        }

        ExprContext ctx = stepCtx with
        {
            Contexts = new Dictionary<string, ExprValue>(stepCtx.Contexts, StringComparer.OrdinalIgnoreCase) { ["steps"] = steps, ["env"] = ExprValue.Object(env) },
            Unavailable = stepCtx.Unavailable.Where(kv => kv.Key != "steps").ToDictionary(StringComparer.OrdinalIgnoreCase),
        };
        return StepPlanner.Plan(wf, job, s, ctx, env, secretNames, inputs, []);
    }
}
