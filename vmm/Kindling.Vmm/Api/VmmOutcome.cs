namespace Kindling.Vmm.Api;

/// <summary>The VMM loop's answer to one <see cref="VmmAction"/>: success (with an optional JSON body) or a fault.</summary>
public sealed record VmmOutcome
{
    private VmmOutcome(string? body, string? fault)
    {
        Body = body;
        FaultMessage = fault;
    }

    /// <summary>The JSON body of a successful GET; null for a 204.</summary>
    public string? Body { get; }

    /// <summary>Why the action was refused; null on success.</summary>
    public string? FaultMessage { get; }

    public bool IsSuccess => FaultMessage is null;

    public static VmmOutcome NoContent { get; } = new(null, null);

    public static VmmOutcome Json(string body) => new(body, null);

    public static VmmOutcome Fault(string message) => new(null, message);
}
