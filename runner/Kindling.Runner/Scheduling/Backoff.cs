namespace Kindling.Runner.Scheduling;

/// <summary>
/// Exponential backoff with jitter for retries the daemon schedules itself (polling a failing forge, preparing a
/// job again): <c>first × 2^(n−1)</c>, capped at <c>max</c>, then scaled by a random factor in [0.5, 1) so that
/// many tenants or jobs failing together do not retry in lock-step.
/// </summary>
public static class Backoff
{
    /// <param name="failures">Consecutive failures so far (1 for the first).</param>
    /// <param name="random">A uniform sample in [0, 1): the jitter.</param>
    public static TimeSpan Delay(int failures, TimeSpan first, TimeSpan max, double random)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(failures, 1);
        double exponential = first.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        double capped = Math.Min(exponential, max.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (0.5 * Math.Clamp(random, 0, 1))));
    }
}
