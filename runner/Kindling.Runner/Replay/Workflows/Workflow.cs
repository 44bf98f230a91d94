using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay.Workflows;

/// <summary>A position in a workflow file (1-based).</summary>
public readonly record struct SourceMark(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}

/// <summary>A GitHub Actions workflow file, as far as <c>kindling replay</c> reads it. Strings keep their <c>${{ }}</c>.</summary>
public sealed record Workflow
{
    /// <summary>The path it was read from, as shown in messages.</summary>
    public required string File { get; init; }
    /// <summary>The absolute path (when read from a file).</summary>
    public string? FullPath { get; init; }
    public required string Name { get; init; }
    public IReadOnlyList<string> Events { get; init; } = [];
    /// <summary><c>on.workflow_dispatch.inputs</c> / <c>on.workflow_call.inputs</c> defaults, by input name.</summary>
    public IReadOnlyList<KeyValuePair<string, ExprValue>> InputDefaults { get; init; } = [];
    /// <summary>Declared input types (<c>boolean</c>, <c>number</c>, <c>string</c>, <c>choice</c>, …), by input name.</summary>
    public IReadOnlyDictionary<string, string> InputTypes { get; init; } = new Dictionary<string, string>();
    /// <summary><c>on.workflow_call.inputs</c>: what a caller's <c>with:</c> may give (only those, unlike <see cref="InputDefaults"/>).</summary>
    public IReadOnlyList<CallInput> CallInputs { get; init; } = [];
    /// <summary><c>on.workflow_call.outputs</c>: name → value template (reads the <c>jobs</c> context).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> CallOutputs { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];
    public RunDefaults Defaults { get; init; } = new(null, null);
    public required IReadOnlyList<WorkflowJob> Jobs { get; init; }

    public string FileName => Path.GetFileName(File);
}

/// <summary><c>defaults.run</c>.</summary>
public sealed record RunDefaults(string? Shell, string? WorkingDirectory);

public sealed record WorkflowJob
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    /// <summary>runs-on labels (each may hold an expression).</summary>
    public IReadOnlyList<string> RunsOn { get; init; } = [];
    public IReadOnlyList<string> Needs { get; init; } = [];
    public string? If { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];
    public RunDefaults Defaults { get; init; } = new(null, null);
    public MatrixSpec? Matrix { get; init; }
    /// <summary><c>strategy.fail-fast</c> and <c>strategy.max-parallel</c> as written (null: GitHub's defaults, true and unbounded).</summary>
    public string? FailFast { get; init; }
    public string? MaxParallel { get; init; }
    /// <summary><c>outputs:</c>, name → template (evaluated after the job's steps, with the steps context).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Outputs { get; init; } = [];
    /// <summary><c>continue-on-error</c> of the job as written.</summary>
    public string? ContinueOnError { get; init; }
    public string? TimeoutMinutes { get; init; }
    /// <summary>A reusable workflow this job calls instead of having steps.</summary>
    public string? Uses { get; init; }
    /// <summary><c>with:</c> of a job that calls a reusable workflow (templates, evaluated in the caller's contexts).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> With { get; init; } = [];
    /// <summary><c>secrets:</c> of a calling job: name → template; <see cref="SecretsInherit"/> for <c>secrets: inherit</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Secrets { get; init; } = [];
    public bool SecretsInherit { get; init; }
    /// <summary>Set on a job expanded from a reusable workflow: the call it comes from.</summary>
    public ReusableCall? Call { get; init; }
    /// <summary>Set on a calling job once its callee is expanded: the ids of the callee's jobs (as <c>caller/job</c>).</summary>
    public IReadOnlyList<string> CalleeJobs { get; init; } = [];
    /// <summary>Why a calling job's callee could not be read (the job cannot be replayed; the others can).</summary>
    public string? CallError { get; init; }
    /// <summary><c>container:</c>, or null: replay runs its steps in the Kindling image's microVM (<see cref="ContainerJob"/>).</summary>
    public JobContainer? Container { get; init; }
    public IReadOnlyList<string> Services { get; init; } = [];
    public IReadOnlyList<WorkflowStep> Steps { get; init; } = [];
    public SourceMark Mark { get; init; }
}

public sealed record WorkflowStep
{
    /// <summary>1-based position in the job.</summary>
    public required int Number { get; init; }
    public string? Id { get; init; }
    public string? Name { get; init; }
    public string? Run { get; init; }
    public string? Uses { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> With { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> Env { get; init; } = [];
    public string? Shell { get; init; }
    public string? WorkingDirectory { get; init; }
    public string? If { get; init; }
    public string? ContinueOnError { get; init; }
    public string? TimeoutMinutes { get; init; }
    public SourceMark Mark { get; init; }
}

/// <summary><c>strategy.matrix</c>: axes in file order, include and exclude entries; or one expression.</summary>
public sealed record MatrixSpec
{
    public IReadOnlyList<MatrixAxis> Axes { get; init; } = [];
    public IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> Include { get; init; } = [];
    public IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> Exclude { get; init; } = [];
    /// <summary>The whole matrix as one <c>${{ }}</c> expression (e.g. fromJSON of something).</summary>
    public string? Expression { get; init; }
    public SourceMark Mark { get; init; }
}

/// <summary>One matrix key and its values (or an expression that yields the list).</summary>
public sealed record MatrixAxis(string Key, IReadOnlyList<ExprValue> Values, string? Expression = null);

/// <summary>An action's action.yml, as far as replay runs it.</summary>
public sealed record ActionManifest
{
    public string Name { get; init; } = "";
    /// <summary>Input name → default (null: none).</summary>
    public IReadOnlyList<KeyValuePair<string, string?>> Inputs { get; init; } = [];
    /// <summary>Output name → value template (composite actions).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Outputs { get; init; } = [];
    /// <summary><c>composite</c>, <c>node12</c>/<c>node16</c>/<c>node20</c>/…, or <c>docker</c>.</summary>
    public string Using { get; init; } = "";
    public string Main { get; init; } = "";
    public string Pre { get; init; } = "";
    public string Post { get; init; } = "";
    /// <summary><c>runs.pre-if</c> / <c>runs.post-if</c> ("": GitHub's default, always()).</summary>
    public string PreIf { get; init; } = "";
    public string PostIf { get; init; } = "";
    public string Image { get; init; } = "";
    public IReadOnlyList<WorkflowStep> Steps { get; init; } = [];
}

/// <summary>One <c>on.workflow_call.inputs</c> entry.</summary>
public sealed record CallInput(string Name, ExprValue? Default, string? Type, bool Required);

/// <summary>
/// A reusable workflow call a job was expanded from: the calling job (its with:, secrets:), the callee workflow, and
/// the call above it when calls nest. <see cref="Prefix"/> is what the callee's job ids are prefixed with.
/// </summary>
public sealed record ReusableCall(WorkflowJob Caller, Workflow Callee, string Prefix, ReusableCall? Parent)
{
    public int Depth => Parent is null ? 1 : Parent.Depth + 1;

    /// <summary>Set when the calling job has a <c>strategy.matrix</c>: the combination this call runs (one call per combination).</summary>
    public CallInstance? Instance { get; init; }

    /// <summary>The prefix of this call's jobs in the expanded workflow (the calls above it included).</summary>
    public string FullPrefix => (Parent?.FullPrefix ?? "") + Prefix;

    /// <summary>This call and the calls above it, outermost first.</summary>
    public IEnumerable<ReusableCall> Chain => Parent is null ? [this] : Parent.Chain.Append(this);
}

/// <summary>
/// One matrix combination of a calling job: its <c>matrix</c> and <c>strategy</c> contexts, and the strategy it
/// shares with its sibling calls (<see cref="Strategy"/> is one object per calling job: fail-fast and max-parallel
/// apply across the calls).
/// </summary>
public sealed record CallInstance(MatrixCombination Combination, int Index, int Total, CallStrategy Strategy);

/// <summary><c>strategy.fail-fast</c> and <c>max-parallel</c> of a calling job, evaluated; one instance per calling job.</summary>
public sealed class CallStrategy(string callerId, bool failFast, int maxParallel)
{
    public string CallerId => callerId;
    public bool FailFast => failFast;
    public int MaxParallel => maxParallel;
}
