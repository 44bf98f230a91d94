namespace Kindling.Testing.FakeForge;

/// <summary>What a fault does to a request.</summary>
public enum FakeForgeFaultKind
{
    /// <summary>Answer <see cref="FakeForgeFault.Status"/> (e.g. 500, 502, 503) with a GitHub error body.</summary>
    Status,
    /// <summary>429 "API rate limit exceeded", with <c>retry-after</c> when RetryAfter is set.</summary>
    TooManyRequests,
    /// <summary>403 "secondary rate limit", with <c>retry-after</c> when RetryAfter is set.</summary>
    SecondaryLimit,
    /// <summary>
    /// The primary limit spent: <see cref="FakeForgeFault.Status"/> (403, or 429) "API rate limit exceeded" with
    /// <c>x-ratelimit-remaining: 0</c> and <c>x-ratelimit-reset</c> at <see cref="FakeForgeFault.Reset"/>.
    /// </summary>
    PrimaryLimit,
    /// <summary>Wait <see cref="FakeForgeFault.Delay"/> (real time), or until <see cref="FakeForgeFault.Until"/>, before answering normally: slow or timed-out responses.</summary>
    Delay,
    /// <summary>Never answer: hold the request until the client gives up on it (its timeout) or the fake stops.</summary>
    Hang,
}

/// <summary>A fault applied to the next <see cref="Times"/> requests whose path contains <see cref="PathContains"/>.</summary>
public sealed class FakeForgeFault
{
    public required FakeForgeFaultKind Kind { get; init; }
    public string PathContains { get; init; } = "/";
    /// <summary>Only requests with this HTTP method (GET, POST, DELETE…); null: any.</summary>
    public string? Method { get; init; }
    public int Times { get; set; } = 1;
    public int Status { get; init; } = 503;
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>Write <c>retry-after</c> as an HTTP-date (the fake's clock + RetryAfter) instead of seconds.</summary>
    public bool RetryAfterAsDate { get; init; }
    /// <summary>For <see cref="FakeForgeFaultKind.PrimaryLimit"/>: when the limit resets (the fake's clock + 1 minute when unset).</summary>
    public DateTimeOffset? Reset { get; init; }
    public TimeSpan Delay { get; init; }

    /// <summary>For <see cref="FakeForgeFaultKind.Delay"/>: hold the request until this completes (instead of <see cref="Delay"/>).</summary>
    public Task? Until { get; init; }

    private readonly TaskCompletionSource _hit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the fault is first applied to a request (for <see cref="FakeForgeFaultKind.Hang"/>: the request is held).</summary>
    public Task Hit => _hit.Task;

    internal void MarkHit() => _hit.TrySetResult();
}

/// <summary>One request the fake saw (<see cref="Path"/> as the client sent it, before any <c>/repositories/ID</c> rewrite).</summary>
public sealed record FakeForgeRequest(string Method, string Path, string Query, int Status, string? Authorization, string? IfNoneMatch, DateTimeOffset At)
{
    /// <summary>The request body (for POSTs), as sent.</summary>
    public string? Body { get; init; }
}
