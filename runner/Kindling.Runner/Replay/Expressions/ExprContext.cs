namespace Kindling.Runner.Replay.Expressions;

/// <summary>
/// What an expression can see: the contexts by name (case-insensitive), contexts that exist in GitHub but not
/// here (with the reason, for the error message) and, in <c>if:</c> only, whether an earlier step failed.
/// </summary>
public sealed record ExprContext
{
    public required IReadOnlyDictionary<string, ExprValue> Contexts { get; init; }

    /// <summary>Context name → why it cannot be used here.</summary>
    public IReadOnlyDictionary<string, string> Unavailable { get; init; } = new Dictionary<string, string>();

    /// <summary>Null outside <c>if:</c> (status functions are an error there); otherwise whether the job has failed so far.</summary>
    public bool? JobFailed { get; init; }

    /// <summary>Where the expression comes from, for messages (e.g. <c>jobs.build.steps[2].if</c>).</summary>
    public string Where { get; init; } = "expression";

    /// <summary>hashFiles(patterns); null where it is not available (outside a job's steps).</summary>
    public Func<IReadOnlyList<string>, string>? HashFiles { get; init; }

    /// <summary>In <c>if:</c> at step time: the job was cancelled (cancelled() is true; success() and failure() are false, as on GitHub).</summary>
    public bool JobCancelled { get; init; }

    public ExprContext WithStatus(bool failed) => this with { JobFailed = failed };
}
