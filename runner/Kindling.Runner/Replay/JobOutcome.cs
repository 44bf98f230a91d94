using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay;

/// <summary>GitHub's job and step results, as the <c>needs</c> and <c>steps</c> contexts spell them.</summary>
public static class JobResults
{
    public const string Success = "success";
    public const string Failure = "failure";
    public const string Cancelled = "cancelled";
    public const string Skipped = "skipped";
}

/// <summary>What one step of a run left: its outcome (before continue-on-error) and conclusion, and its outputs.</summary>
public sealed record StepOutcome(string Outcome, string Conclusion, IReadOnlyList<KeyValuePair<string, string>> Outputs);

/// <summary>How one job (one matrix combination) of a replay ended.</summary>
public sealed record JobOutcome
{
    /// <summary>success, failure, cancelled or skipped.</summary>
    public required string Result { get; init; }
    /// <summary>The process exit code it stands for (0 on success or skip).</summary>
    public int ExitCode { get; init; }
    /// <summary>By the step's 1-based number in the workflow job.</summary>
    public IReadOnlyDictionary<int, StepOutcome> Steps { get; init; } = new Dictionary<int, StepOutcome>();

    public static JobOutcome Skipped { get; } = new() { Result = JobResults.Skipped };
    public static JobOutcome Cancelled { get; } = new() { Result = JobResults.Cancelled, ExitCode = 130 };

    /// <summary>The <c>steps</c> context after the job: <c>steps.&lt;id&gt;.outputs/outcome/conclusion</c> for steps with an id.</summary>
    public ExprValue StepsContext(ReplayJobPlan plan) => ExprValue.Object(plan.Job.Steps
        .Where(s => s.Id is not null)
        .Select(s => KeyValuePair.Create(s.Id!, StepOutcomes.Value(Steps.GetValueOrDefault(s.Number) ?? new StepOutcome(JobResults.Skipped, JobResults.Skipped, [])))));
}
