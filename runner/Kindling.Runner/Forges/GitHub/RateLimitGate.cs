using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// GitHub's rate limits for one credential: the primary limit from <c>x-ratelimit-remaining</c>/<c>-reset</c>
/// (when it reaches 0, requests wait until the reset time) and secondary limits (403/429 with
/// <c>retry-after</c>, or without it: wait at least a minute, as GitHub's docs say).
/// </summary>
public sealed class RateLimitGate(TimeProvider time)
{
    /// <summary>GitHub: "If you receive a secondary rate limit error without retry-after, wait at least one minute".</summary>
    public static readonly TimeSpan SecondaryDefaultWait = TimeSpan.FromMinutes(1);

    private readonly object _lock = new();
    private int? _remaining;
    private DateTimeOffset _reset;

    public int? Remaining
    {
        get
        {
            lock (_lock)
            {
                return _remaining;
            }
        }
    }

    /// <summary>How long to wait before the next request may be sent (zero when it may go now).</summary>
    public TimeSpan WaitBeforeSend()
    {
        lock (_lock)
        {
            if (_remaining is 0)
            {
                TimeSpan wait = _reset - time.GetUtcNow();
                return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
            }

            return TimeSpan.Zero;
        }
    }

    /// <summary>Reads the rate-limit headers of a response.</summary>
    public void Observe(HttpResponseHeaders headers)
    {
        if (TryHeader(headers, "x-ratelimit-remaining", out long remaining) && TryHeader(headers, "x-ratelimit-reset", out long reset))
        {
            lock (_lock)
            {
                _remaining = (int)Math.Min(remaining, int.MaxValue);
                _reset = DateTimeOffset.FromUnixTimeSeconds(reset);
            }
        }
    }

    /// <summary>
    /// When <paramref name="response"/> is a rate-limit refusal, how long to wait before retrying it; null when it
    /// is not one (a 403 for permissions is an error, not a limit).
    /// </summary>
    public TimeSpan? RetryDelay(HttpResponseMessage response)
    {
        if (response.StatusCode is not (HttpStatusCode.Forbidden or HttpStatusCode.TooManyRequests))
        {
            return null;
        }

        if (response.Headers.RetryAfter is { } ra)
        {
            if (ra.Delta is { } delta) return delta;
            if (ra.Date is { } date) return Max(date - time.GetUtcNow());
        }

        if (TryHeader(response.Headers, "x-ratelimit-remaining", out long remaining) && remaining == 0 &&
            TryHeader(response.Headers, "x-ratelimit-reset", out long reset))
        {
            return Max(DateTimeOffset.FromUnixTimeSeconds(reset) - time.GetUtcNow());
        }

        // 429 is always a limit; a 403 is a secondary limit only when GitHub says so in the body.
        return response.StatusCode == HttpStatusCode.TooManyRequests ? SecondaryDefaultWait : null;
    }

    private static TimeSpan Max(TimeSpan t) => t > TimeSpan.Zero ? t : TimeSpan.Zero;

    private static bool TryHeader(HttpResponseHeaders headers, string name, out long value)
    {
        value = 0;
        return headers.TryGetValues(name, out IEnumerable<string>? values) &&
               long.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out value);
    }
}
