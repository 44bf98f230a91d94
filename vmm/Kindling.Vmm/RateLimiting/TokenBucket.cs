namespace Kindling.Vmm.RateLimiting;

/// <summary>What <see cref="TokenBucket.Reduce"/> did.</summary>
public enum BucketReduction
{
    /// <summary>Not enough tokens; nothing was taken.</summary>
    Failure,

    /// <summary>The tokens were taken.</summary>
    Success,

    /// <summary>The request was larger than the whole bucket: everything was taken and the caller must wait it off.</summary>
    OverConsumption,
}

/// <summary>
/// A token bucket with Firecracker's semantics: <see cref="Size"/> tokens, refilled continuously so that an empty
/// bucket is full again after <see cref="RefillTimeMs"/>; an initial <see cref="OneTimeBurst"/> is spent first and
/// never refilled. Not thread-safe (the owning <see cref="RateLimiter"/> locks).
/// </summary>
public sealed class TokenBucket
{
    private readonly TimeProvider _time;
    private readonly long _refillTicks;
    private long _lastUpdate;

    /// <param name="size">Bucket capacity in tokens (bytes or operations); must be positive.</param>
    /// <param name="oneTimeBurst">Extra initial tokens, spent first, never refilled.</param>
    /// <param name="refillTimeMs">Milliseconds to refill an empty bucket; must be positive.</param>
    /// <param name="time">The clock.</param>
    public TokenBucket(long size, long oneTimeBurst, long refillTimeMs, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(refillTimeMs);
        ArgumentOutOfRangeException.ThrowIfNegative(oneTimeBurst);
        Size = size;
        OneTimeBurst = oneTimeBurst;
        InitialOneTimeBurst = oneTimeBurst;
        RefillTimeMs = refillTimeMs;
        Budget = size;
        _time = time;
        _refillTicks = checked((long)(refillTimeMs / 1000.0 * time.TimestampFrequency));
        _lastUpdate = time.GetTimestamp();
    }

    /// <summary>A bucket per Firecracker's rule: size 0 or refill_time 0 means no limit (null).</summary>
    public static TokenBucket? Create(long size, long oneTimeBurst, long refillTimeMs, TimeProvider time) =>
        size <= 0 || refillTimeMs <= 0 ? null : new TokenBucket(size, oneTimeBurst, refillTimeMs, time);

    public long Size { get; }

    public long RefillTimeMs { get; }

    public long InitialOneTimeBurst { get; }

    /// <summary>Burst tokens left.</summary>
    public long OneTimeBurst { get; private set; }

    /// <summary>Tokens available now (after the last refill computation).</summary>
    public long Budget { get; private set; }

    /// <summary>Takes <paramref name="tokens"/> (burst first, then the refilling budget).</summary>
    public BucketReduction Reduce(long tokens)
    {
        if (OneTimeBurst > 0)
        {
            if (OneTimeBurst >= tokens)
            {
                OneTimeBurst -= tokens;
                _lastUpdate = _time.GetTimestamp();
                return BucketReduction.Success;
            }

            tokens -= OneTimeBurst;
            OneTimeBurst = 0;
        }

        if (tokens > Budget)
        {
            Replenish();
            if (tokens > Size)
            {
                // Larger than the bucket can ever hold: let it through, empty the bucket, and make the caller wait
                // for the excess (OverConsumption) so the average rate still holds.
                Overdraft = tokens - Budget;
                Budget = 0;
                // The excess is a debt: refilling resumes only once it has been paid off in time.
                _lastUpdate = _time.GetTimestamp() + (long)(((Int128)Overdraft * _refillTicks + Size - 1) / Size);
                return BucketReduction.OverConsumption;
            }

            if (tokens > Budget)
            {
                return BucketReduction.Failure;
            }
        }

        Budget -= tokens;
        return BucketReduction.Success;
    }

    /// <summary>After <see cref="BucketReduction.OverConsumption"/>: the tokens taken beyond the budget.</summary>
    public long Overdraft { get; private set; }

    /// <summary>Gives tokens back (a request that was counted but not served), up to the size.</summary>
    public void ForceReplenish(long tokens)
    {
        if (tokens <= 0)
        {
            return;
        }

        Budget = Math.Min(Size, Budget + tokens);
    }

    /// <summary>How long until <paramref name="tokens"/> (at most <see cref="Size"/>) are available.</summary>
    public TimeSpan TimeUntil(long tokens)
    {
        Replenish();
        long missing = Math.Min(tokens, Size) - Budget;
        if (missing <= 0)
        {
            return TimeSpan.Zero;
        }

        return TicksFor(missing);
    }

    /// <summary>How long refilling <paramref name="tokens"/> takes.</summary>
    public TimeSpan TicksFor(long tokens)
    {
        Int128 ticks = ((Int128)tokens * _refillTicks + Size - 1) / Size;
        return _time.GetElapsedTime(0, (long)ticks);
    }

    private void Replenish()
    {
        long now = _time.GetTimestamp();
        long elapsed = now - _lastUpdate;
        if (elapsed <= 0)
        {
            return;
        }

        Int128 produced = (Int128)elapsed * Size / _refillTicks;
        if (produced <= 0)
        {
            return;
        }

        if (Budget + produced >= Size)
        {
            Budget = Size;
            _lastUpdate = now;
            return;
        }

        Budget += (long)produced;
        // Advance the clock only by the time that produced whole tokens, so fractions are not lost.
        _lastUpdate += (long)(produced * _refillTicks / Size);
    }
}
