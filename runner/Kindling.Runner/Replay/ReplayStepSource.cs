using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// A replayed job's steps decided at step time (issue: expressions at step time). The plan made before boot fixed
/// the steps' order; here each <c>run:</c> step of the workflow is planned again when its turn comes, over the
/// contexts as they are then: <c>env</c> with what earlier steps wrote to <c>$GITHUB_ENV</c>, <c>steps.&lt;id&gt;</c>
/// with their outputs, outcome and conclusion, and the job's status (an earlier step failed, continue-on-error
/// aside). Its <c>if:</c> is decided here, so the agent gets <c>always()</c> (run it) or <c>cancelled()</c> (skip it).
/// A composite action's steps are planned again when the action starts (its <c>with:</c> over the contexts then);
/// a local action an earlier step writes is loaded from the guest when its step comes (<see cref="RuntimeActions"/>)
/// and its steps are put in after the load step, so the job's step list grows as it runs (<see cref="Steps"/>).
/// uses: stand-ins keep their planned spec; their if: is decided the same way.
/// </summary>
public sealed class ReplayStepSource : IHostStepSource
{
    private readonly ReplayJobPlan _plan;
    private readonly List<PlannedStep> _steps;
    private readonly Dictionary<int, StepSpec> _handed = [];
    private readonly StepOutcomes _outcomes;
    private readonly List<KeyValuePair<string, string>> _envWritten = [];
    private readonly Dictionary<string, List<KeyValuePair<string, string>>> _state = new(StringComparer.Ordinal);
    /// <summary>Local actions written at run time, as the guest last read them: directory → action.yml's text.</summary>
    private readonly Dictionary<string, string> _written = new(StringComparer.Ordinal);
    /// <summary>Workflow steps (by number) whose action steps were planned at step time.</summary>
    private readonly HashSet<int> _expanded = [];
    private int _seen;
    private bool _failed;

    public ReplayStepSource(ReplayJobPlan plan)
    {
        _plan = plan;
        _steps = [.. plan.Steps];
        _outcomes = new StepOutcomes(plan, _steps);
    }

    /// <summary>The job's steps as they stand: the plan's, with the steps of actions loaded at run time put in (by the guest's step number).</summary>
    public IReadOnlyList<PlannedStep> Steps => _steps;

    public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done, bool cancelled)
    {
        try
        {
            // The steps that ended since the last call, each read once: the running steps context, $GITHUB_ENV, the job's status.
            for (; _seen < done.Count; _seen++)
            {
                Finished(done[_seen]);
            }

            return n >= _steps.Count ? null : Decide(n, cancelled);
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

    private StepSpec Decide(int n, bool cancelled)
    {
        PlannedStep planned = _steps[n];
        StepSpec spec = planned.Spec;
        if (_plan.Replan is { } replan && planned.Stage == PlannedStepStage.Main && _plan.Job.Steps.FirstOrDefault(s => s.Number == planned.Number) is { } workflowStep)
        {
            if (planned.Kind == PlannedStepKind.LoadAction)
            {
                // loaded again at each use: the file may have changed since an earlier step loaded it
                spec = replan(workflowStep, _outcomes.Context(), _envWritten, NoneWritten).Single(p => p.Stage == PlannedStepStage.Main).Spec;
            }
            else if (planned.Kind == PlannedStepKind.Run && !planned.PartOfAction)
            {
                spec = replan(workflowStep, _outcomes.Context(), _envWritten, _written).Single(p => p.Stage == PlannedStepStage.Main).Spec;
            }
            else if (planned.PartOfAction && _expanded.Add(planned.Number))
            {
                // A composite action starts: its steps planned again over the contexts now (its with:, env, if:).
                int end = n;
                while (end < _steps.Count && _steps[end] is { PartOfAction: true, Stage: PlannedStepStage.Main } part && part.Number == planned.Number)
                {
                    end++;
                }

                _steps.RemoveRange(n, end - n);
                _steps.InsertRange(n, replan(workflowStep, _outcomes.Context(), _envWritten, _written).Where(p => p.Stage == PlannedStepStage.Main));
                if (n >= _steps.Count || _steps[n].Number != planned.Number)
                {
                    // the action has no steps now: a step that does nothing stands in for it
                    _steps.Insert(n, planned with { Kind = PlannedStepKind.Run, Spec = new StepSpec { Name = planned.Name, Run = "true", If = StepConditions.Never } });
                }

                planned = _steps[n];
                spec = planned.Spec;
            }

            if (planned.PartOfAction && planned.Composite is { Again: { } again } composite)
            {
                // A step of a composite action, planned when it runs: the action's own steps context and $GITHUB_ENV now.
                StepSpec now = again(_outcomes.Scope(composite.Outputs), _envWritten).Spec;
                spec = now with { ContinueOnError = now.ContinueOnError || spec.ContinueOnError }; // the workflow step's continue-on-error holds for its parts
            }
        }

        bool run = cancelled ? RunsWhenCancelled(planned, spec) : StepConditions.FromAgent(spec.If) is var cond && (_failed ? cond.WhenFailed : cond.WhenOk);
        if (planned.Stage == PlannedStepStage.Post && _state.TryGetValue(StateKey(planned), out List<KeyValuePair<string, string>>? saved))
        {
            // As GitHub's runner: what the action's pre and main steps saved ($GITHUB_STATE, ::save-state) is STATE_<name> in its post step.
            var env = new Dictionary<string, string>(spec.Env, StringComparer.Ordinal);
            foreach ((string name, string value) in saved)
            {
                env["STATE_" + name] = value;
            }

            spec = spec with { Env = env };
        }

        StepSpec handed = spec with { If = run ? StepConditions.Always : StepConditions.Never };
        _handed[n] = handed;
        return handed;
    }

    private static readonly IReadOnlyDictionary<string, string> NoneWritten = new Dictionary<string, string>();

    private void Finished(HostStepResult r)
    {
        if (r.Skipped)
        {
            _outcomes.Skipped(r.Number);
            return;
        }

        if (r.Number >= 0 && r.Number < _steps.Count && _steps[r.Number] is { Kind: PlannedStepKind.LoadAction } load && r.ExitCode == 0 &&
            RuntimeActions.Manifest(r.Files.Output) is { } text && _plan.Replan is { } replan && _plan.Job.Steps.FirstOrDefault(s => s.Number == load.Number) is { } workflowStep)
        {
            _written[RuntimeActions.Directory(load.Uses!)] = text;
            _expanded.Add(load.Number);
            Insert(r.Number + 1, load.Number, replan(workflowStep, _outcomes.Context(), _envWritten, _written));
        }

        bool tolerated = _handed.TryGetValue(r.Number, out StepSpec? s) && s.ContinueOnError;
        int exit = r.ExitCode ?? -1;
        _outcomes.Ended(r.Number, exit, tolerated, r.EndedBy == FramingLine.EndedCancelled);
        _outcomes.Files(r.Number, r.Files.Output, r.Commands?.Outputs);
        _envWritten.AddRange(GuestCommandFiles.ParseEntries(r.Files.Env));
        _envWritten.AddRange(r.Commands?.Env ?? []);
        if (r.Number >= 0 && r.Number < _steps.Count && _steps[r.Number] is { Stage: not PlannedStepStage.Post } ran)
        {
            // ::save-state lines come first, the file's entries after them (a name in both is the file's), as for outputs.
            IEnumerable<KeyValuePair<string, string>> saved = [.. r.Commands?.State ?? [], .. GuestCommandFiles.ParseEntries(r.Files.State)];
            if (saved.Any())
            {
                string key = StateKey(ran);
                if (!_state.TryGetValue(key, out List<KeyValuePair<string, string>>? list))
                {
                    _state[key] = list = [];
                }

                list.AddRange(saved);
            }
        }
        _failed |= exit != 0 && !tolerated;
    }

    /// <summary>
    /// A loaded action's steps: its main steps right after the load step, a post step among the job's post steps in
    /// GitHub's order (reverse of their main steps); GitHub runs no pre: of a local action.
    /// </summary>
    private void Insert(int at, int number, IReadOnlyList<PlannedStep> action)
    {
        PlannedStep[] main = [.. action.Where(p => p.Stage == PlannedStepStage.Main)];
        _steps.InsertRange(at, main);
        foreach (PlannedStep post in action.Where(p => p.Stage == PlannedStepStage.Post))
        {
            int i = at + main.Length;
            while (i < _steps.Count && !(_steps[i].Stage == PlannedStepStage.Post && _steps[i].Number < number))
            {
                i++;
            }

            _steps.Insert(i, post);
        }
    }

    /// <summary>Which action a step's saved state belongs to: the workflow step and the action it uses (a composite's parts share the number).</summary>
    private static string StateKey(PlannedStep s) => $"{s.Number}:{s.Uses}";

    /// <summary>
    /// After the job was cancelled, as on GitHub: a step runs only when its if: calls a status function and holds with
    /// cancelled() true and success() and failure() false (<c>always()</c>, <c>cancelled()</c>, <c>!success()</c>).
    /// A step whose if: cannot be read again here keeps what the plan gave the agent: it runs when that was always().
    /// </summary>
    private bool RunsWhenCancelled(PlannedStep planned, StepSpec spec)
    {
        if (planned.IfSource is not { } source || source.Trim().Length == 0)
        {
            return false;
        }

        if (_plan.JobContext is not { } ctx)
        {
            return spec.If == StepConditions.Always;
        }

        try
        {
            Expr e = Template.ParseCondition(source, ctx.Where);
            ExprContext now = ctx.WithStatus(_failed) with
            {
                JobCancelled = true,
                Contexts = new Dictionary<string, ExprValue>(ctx.Contexts, StringComparer.OrdinalIgnoreCase) { ["steps"] = _outcomes.Context() },
                Unavailable = ctx.Unavailable.Where(kv => kv.Key != "steps").ToDictionary(StringComparer.OrdinalIgnoreCase),
            };
            return ExprTree.CallsStatusFunction(e) && ExprEvaluator.Evaluate(e, now).IsTruthy;
        }
        catch (ExpressionException)
        {
            return spec.If == StepConditions.Always;
        }
    }

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
    /// Plans a workflow step again with the <c>steps</c> context, the $GITHUB_ENV entries so far and the local actions
    /// read back from the guest (ReplayPlanner gives each plan one, over the job's own contexts, secrets and inputs).
    /// </summary>
    internal static IReadOnlyList<PlannedStep> Replan(Workflow wf, WorkflowJob job, WorkflowStep s, ExprContext stepCtx, IReadOnlyList<KeyValuePair<string, ExprValue>> jobEnv,
        ExprValue steps, IReadOnlyList<KeyValuePair<string, string>> envWritten, IReadOnlyDictionary<string, string> written, GuestSecretNames secretNames, ReplayInputs inputs)
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
        return StepPlanner.PlanAll(wf, job, s, ctx, env, secretNames, inputs, [], 0, written);
    }
}
