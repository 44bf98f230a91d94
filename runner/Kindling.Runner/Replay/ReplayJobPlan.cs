using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

public enum PlannedStepKind
{
    /// <summary>A run: step.</summary>
    Run,
    /// <summary>actions/checkout: the workspace already holds the files.</summary>
    Checkout,
    /// <summary>Another action: not supported yet.</summary>
    UnsupportedUses,
    /// <summary>A local action an earlier step writes at run time: loaded from the guest when its step comes (<see cref="RuntimeActions"/>).</summary>
    LoadAction,
}

/// <summary>When a planned step runs: in the job's order, or as a JavaScript action's pre: / post: script.</summary>
public enum PlannedStepStage
{
    /// <summary>Where its workflow step is.</summary>
    Main,
    /// <summary>Before all the job's steps, in their order (a remote JavaScript action's <c>pre:</c>).</summary>
    Pre,
    /// <summary>After all the job's steps, in reverse order (a JavaScript action's <c>post:</c>, once its main ran).</summary>
    Post,
}

/// <summary>A step as it will run (or be skipped), for the dry run and the terminal's step headers.</summary>
public sealed record PlannedStep
{
    public required int Number { get; init; }
    public required string Name { get; init; }
    public required PlannedStepKind Kind { get; init; }
    public string? Uses { get; init; }
    /// <summary>The workflow's if: as written, or null.</summary>
    public string? IfSource { get; init; }
    public required StepSpec Spec { get; init; }
    /// <summary>Step env that comes from secrets (guest names), kept out of the spec's env.</summary>
    public IReadOnlyList<string> SecretEnv { get; init; } = [];
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Why an UnsupportedUses step cannot run (Docker action, not in the action cache, …).</summary>
    public string? UnsupportedReason { get; init; }
    /// <summary>A cached action's files to copy into the workspace snapshot: host directory → path under the workspace.</summary>
    public (string Host, string Relative)? StageAction { get; init; }
    /// <summary>An actions/checkout tree to stage under .kindling/checkout/KEY: the commit to archive, or null for the workspace's own files.</summary>
    public (string Key, string? Commit)? CheckoutTree { get; init; }
    /// <summary>One of the steps a composite action expands to (its outputs are not the workflow step's).</summary>
    public bool PartOfAction { get; init; }
    /// <summary>Main, or a JavaScript action's pre: / post: (the planner moves those to the job's start and end).</summary>
    public PlannedStepStage Stage { get; init; }
    /// <summary>No shell: anywhere (step, job or workflow defaults): the image's default shell.</summary>
    public bool DefaultShell { get; init; }
    /// <summary>A step of a composite action: its id there and the action's outputs, evaluated as its steps end.</summary>
    public CompositePart? Composite { get; init; }
}

/// <summary>A composite action's <c>outputs:</c> (name → template) and the contexts they are evaluated in (its inputs, github, env); one per use of the action.</summary>
public sealed class CompositeOutputs(IReadOnlyList<KeyValuePair<string, string>> templates, Expressions.ExprContext context)
{
    public IReadOnlyList<KeyValuePair<string, string>> Templates => templates;
    public Expressions.ExprContext Context => context;

    /// <summary>
    /// For a composite used inside another: the outer action's outputs and the id of its step that uses this one (null:
    /// none). This action's outputs are that step's outputs in the outer action's steps context, and flow up from there.
    /// </summary>
    public (CompositeOutputs Outputs, string? Id)? Parent { get; private set; }

    /// <summary>Links the outermost action of this chain under <paramref name="outer"/>, as its step <paramref name="id"/>.</summary>
    internal void NestIn(CompositeOutputs outer, string? id)
    {
        CompositeOutputs top = this;
        while (top.Parent is { } up)
        {
            top = up.Outputs;
        }

        if (!ReferenceEquals(top, outer))
        {
            top.Parent = (outer, id);
        }
    }
}

/// <summary>A step of a composite action: its <c>id</c> inside the action (null: none) and the action's outputs.</summary>
public sealed record CompositePart(string? Id, CompositeOutputs Outputs)
{
    /// <summary>
    /// Plans this step again at step time over the action's steps context (<see cref="StepOutcomes.Scope"/>) and the
    /// $GITHUB_ENV entries written so far; null for a step that keeps its plan (a uses: stand-in, a pre: or post: step).
    /// </summary>
    public Func<Expressions.ExprValue, IReadOnlyList<KeyValuePair<string, string>>, PlannedStep>? Again { get; init; }
}

/// <summary>One job (one matrix combination) resolved against the inputs: what the guest agent will run.</summary>
public sealed record ReplayJobPlan
{
    public required Workflow Workflow { get; init; }
    public required WorkflowJob Job { get; init; }
    public required MatrixCombination Matrix { get; init; }
    /// <summary>1-based position among the job's selected matrix combinations, and how many there are.</summary>
    public int Index { get; init; } = 1;
    public int Total { get; init; } = 1;
    /// <summary>strategy.fail-fast (GitHub's default true) and max-parallel (default: all the job's combinations at once).</summary>
    public bool FailFast { get; init; } = true;
    public int MaxParallel { get; init; } = 1;
    public required string DisplayName { get; init; }
    public required IReadOnlyList<string> Labels { get; init; }
    public required JobSpec Spec { get; init; }
    public required IReadOnlyList<PlannedStep> Steps { get; init; }
    /// <summary>The job's env from GitHub's defaults (GITHUB_*, RUNNER_*), shown apart from the workflow's.</summary>
    public IReadOnlyList<string> DefaultEnvNames { get; init; } = [];
    /// <summary>Job env that comes from secrets (guest names), kept out of the spec's env.</summary>
    public IReadOnlyList<string> SecretEnv { get; init; } = [];
    /// <summary>Secret names the job reads, in first-use order.</summary>
    public IReadOnlyList<string> RequiredSecrets { get; init; } = [];
    public IReadOnlyList<string> MissingSecrets { get; init; } = [];
    /// <summary>Steps using actions replay cannot run; the run refuses them unless --skip-uses.</summary>
    public IReadOnlyList<PlannedStep> UnsupportedSteps => [.. Steps.Where(s => s.Kind == PlannedStepKind.UnsupportedUses)];
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>The job-level expression context (matrix, needs, env, …): job outputs: are evaluated in it after the job.</summary>
    public Kindling.Runner.Replay.Expressions.ExprContext? JobContext { get; init; }
    /// <summary>
    /// Plans one of the job's workflow steps again at step time, with the <c>steps</c> context, the $GITHUB_ENV entries
    /// written so far and the local actions written at run time (<see cref="ReplayStepSource"/>): its planned steps (one,
    /// or an action's); null for a plan that cannot (a rerun's stored spec).
    /// </summary>
    public Func<WorkflowStep, Kindling.Runner.Replay.Expressions.ExprValue, IReadOnlyList<KeyValuePair<string, string>>, IReadOnlyDictionary<string, string>, IReadOnlyList<PlannedStep>>? Replan { get; init; }
    /// <summary>The job's <c>container:</c> as replay runs it, or null.</summary>
    public ContainerJob? Container { get; init; }
    /// <summary>Why the job fails at set-up, before any step (GitHub's "Initialize containers"), or null.</summary>
    public string? SetupError { get; init; }
    /// <summary>Why the job does not run at all (its if: is false), or null.</summary>
    public string? SkipReason { get; init; }
}
