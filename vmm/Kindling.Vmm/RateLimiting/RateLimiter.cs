using Kindling.Vmm.Config;

namespace Kindling.Vmm.RateLimiting;

/// <summary>Which bucket a request is charged to.</summary>
public enum TokenType
{
    Bytes,
    Ops,
}

/// <summary>
/// Firecracker's rate limiter: a bandwidth bucket (bytes) and an ops bucket (requests), either optional. When a
/// request does not fit, the limiter becomes blocked and arms a timer for when enough tokens will be there; the
/// device stops taking requests until <see cref="Unblocked"/> fires (the device then resumes its queue). Buckets
/// can be replaced while the VM runs (<see cref="Update"/>). Thread-safe.
/// </summary>
public sealed class RateLimiter : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private TokenBucket? _bandwidth;
    private TokenBucket? _ops;
    private bool _blocked;

    public RateLimiter(TokenBucket? bandwidth, TokenBucket? ops, TimeProvider time)
    {
        _bandwidth = bandwidth;
        _ops = ops;
        _time = time;
        _timer = time.CreateTimer(_ => OnTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>A limiter from a Firecracker <c>rate_limiter</c> section; null config means unlimited.</summary>
    public static RateLimiter FromConfig(RateLimiterConfig? config, TimeProvider time) =>
        new(Bucket(config?.Bandwidth, time), Bucket(config?.Ops, time), time);

    /// <summary>Raised (on a timer thread, or inside FakeTimeProvider.Advance) when a blocked limiter can go on.</summary>
    public event Action? Unblocked;

    public bool IsBlocked
    {
        get
        {
            lock (_gate)
            {
                return _blocked;
            }
        }
    }

    /// <summary>True when neither bucket limits anything.</summary>
    public bool IsUnlimited
    {
        get
        {
            lock (_gate)
            {
                return _bandwidth is null && _ops is null;
            }
        }
    }

    public TokenBucket? Bandwidth
    {
        get
        {
            lock (_gate)
            {
                return _bandwidth;
            }
        }
    }

    public TokenBucket? Ops
    {
        get
        {
            lock (_gate)
            {
                return _ops;
            }
        }
    }

    /// <summary>
    /// Charges <paramref name="tokens"/> to the bucket of <paramref name="type"/>. False: not enough tokens (or
    /// already blocked) — the caller must not serve the request and waits for <see cref="Unblocked"/>.
    /// </summary>
    public bool Consume(long tokens, TokenType type)
    {
        lock (_gate)
        {
            if (_blocked)
            {
                return false;
            }

            TokenBucket? bucket = type == TokenType.Bytes ? _bandwidth : _ops;
            if (bucket is null)
            {
                return true;
            }

            switch (bucket.Reduce(tokens))
            {
                case BucketReduction.Success:
                    return true;
                case BucketReduction.OverConsumption:
                    Block(bucket.TicksFor(bucket.Overdraft));
                    return true;
                default:
                    Block(bucket.TimeUntil(tokens));
                    return false;
            }
        }
    }

    /// <summary>Returns tokens charged for a request that was not served after all.</summary>
    public void ManualReplenish(long tokens, TokenType type)
    {
        lock (_gate)
        {
            (type == TokenType.Bytes ? _bandwidth : _ops)?.ForceReplenish(tokens);
        }
    }

    /// <summary>Replaces the buckets (a PATCH while the VM runs); a null argument leaves that bucket as it is.</summary>
    public void Update(RateLimiterConfig? config)
    {
        lock (_gate)
        {
            if (config?.Bandwidth is { } bw)
            {
                _bandwidth = TokenBucket.Create(bw.Size, bw.OneTimeBurst ?? 0, bw.RefillTime, _time);
            }

            if (config?.Ops is { } ops)
            {
                _ops = TokenBucket.Create(ops.Size, ops.OneTimeBurst ?? 0, ops.RefillTime, _time);
            }
        }

        // A new configuration may unblock at once.
        OnTimer();
    }

    public void Dispose() => _timer.Dispose();

    private static TokenBucket? Bucket(TokenBucketConfig? c, TimeProvider time) =>
        c is null ? null : TokenBucket.Create(c.Size, c.OneTimeBurst ?? 0, c.RefillTime, time);

    private void Block(TimeSpan wait)
    {
        _blocked = true;
        if (wait < TimeSpan.FromMilliseconds(1))
        {
            wait = TimeSpan.FromMilliseconds(1);
        }

        _timer.Change(wait, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        lock (_gate)
        {
            if (!_blocked)
            {
                return;
            }

            _blocked = false;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        Unblocked?.Invoke();
    }
}
