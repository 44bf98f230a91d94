namespace Kindling.Testing.FakeForge;

/// <summary>What a fault does to a request.</summary>
public enum FakeForgeFaultKind
{
    /// <summary>Answer <see cref="FakeForgeFault.Status"/> (e.g. 500, 502, 503) with a GitHub error body.</summary>
    Status,
    /// <summary>429 with <c>retry-after</c>.</summary>
    TooManyRequests,
    /// <summary>403 "secondary rate limit", with <c>retry-after</c> when RetryAfter is set.</summary>
    SecondaryLimit,
    /// <summary>Wait <see cref="FakeForgeFault.Delay"/> (real time), or until <see cref="FakeForgeFault.Until"/>, before answering normally: slow or timed-out responses.</summary>
    Delay,
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
    public TimeSpan Delay { get; init; }

    /// <summary>For <see cref="FakeForgeFaultKind.Delay"/>: hold the request until this completes (instead of <see cref="Delay"/>).</summary>
    public Task? Until { get; init; }
}

/// <summary>One request the fake saw.</summary>
public sealed record FakeForgeRequest(string Method, string Path, string Query, int Status, string? Authorization, string? IfNoneMatch, DateTimeOffset At);
