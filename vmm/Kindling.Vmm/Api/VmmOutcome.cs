namespace Kindling.Vmm.Api;

/// <summary>The VMM loop's answer to one <see cref="VmmAction"/>: success (with an optional JSON body) or a fault.</summary>
public sealed record VmmOutcome
{
    private VmmOutcome(string? body, string? fault, bool internalError = false)
    {
        Body = body;
        FaultMessage = fault;
        IsInternalError = internalError;
    }

    /// <summary>The JSON body of a successful GET; null for a 204.</summary>
    public string? Body { get; }

    /// <summary>Why the action was refused; null on success.</summary>
    public string? FaultMessage { get; }

    public bool IsSuccess => FaultMessage is null;

    /// <summary>The action failed in a way no validation foresaw (a 500); the state was left as it was.</summary>
    public bool IsInternalError { get; }

    public static VmmOutcome NoContent { get; } = new(null, null);

    public static VmmOutcome Json(string body) => new(body, null);

    public static VmmOutcome Fault(string message) => new(null, message);

    public static VmmOutcome InternalError(string message) => new(null, message, internalError: true);
}
