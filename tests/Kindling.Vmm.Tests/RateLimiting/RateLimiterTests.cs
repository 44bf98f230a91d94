using Kindling.Testing;
using Kindling.Vmm.Config;
using Kindling.Vmm.RateLimiting;

namespace Kindling.Vmm.Tests.RateLimiting;

public sealed class RateLimiterTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>Drives a limiter like a device does: consume until blocked, wait for Unblocked, repeat.</summary>
    private static double MeasureRate(RateLimiter limiter, FakeTimeProvider time, long request, TokenType type, TimeSpan duration)
    {
        long served = 0;
        long start = time.GetTimestamp();
        bool wake = false;
        limiter.Unblocked += () => wake = true;
        while (time.GetElapsedTime(start) < duration)
        {
            if (limiter.Consume(request, type))
            {
                served += request;
                continue;
            }

            // Blocked: let time pass in small steps until the timer fires, as an event loop would wait.
            wake = false;
            while (!wake)
            {
                time.Advance(TimeSpan.FromMicroseconds(100));
            }
        }

        return served / time.GetElapsedTime(start).TotalSeconds;
    }

    [Theory]
    [InlineData(1_000_000, 100, 1500)]     // 10 MB/s in 1500-byte frames
    [InlineData(64 * 1024, 10, 4096)]      // 6.5 MB/s in 4 KiB blocks
    [InlineData(10_000, 1000, 65536)]      // requests larger than the bucket (over-consumption)
    public void Consume_Bandwidth_MeasuredRateWithinFivePercent(long size, long refillMs, long request)
    {
        using var limiter = new RateLimiter(new TokenBucket(size, 0, refillMs, _time), null, _time);
        double expected = size * 1000.0 / refillMs;
        double measured = MeasureRate(limiter, _time, request, TokenType.Bytes, TimeSpan.FromSeconds(20));
        Assert.InRange(measured, expected * 0.95, expected * 1.05);
    }

    [Fact]
    public void Consume_Ops_MeasuredRateWithinFivePercent()
    {
        using var limiter = new RateLimiter(null, new TokenBucket(100, 0, 1000, _time), _time);
        double measured = MeasureRate(limiter, _time, 1, TokenType.Ops, TimeSpan.FromSeconds(30));
        Assert.InRange(measured, 95, 105);
    }

    [Fact]
    public void Consume_WhenBlocked_RefusesUntilTimerFires()
    {
        using var limiter = new RateLimiter(new TokenBucket(1000, 0, 1000, _time), null, _time);
        int unblocked = 0;
        limiter.Unblocked += () => unblocked++;
        Assert.True(limiter.Consume(1000, TokenType.Bytes));
        Assert.False(limiter.Consume(100, TokenType.Bytes));
        Assert.True(limiter.IsBlocked);
        _time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.True(limiter.IsBlocked);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(limiter.IsBlocked);
        Assert.Equal(1, unblocked);
        Assert.True(limiter.Consume(100, TokenType.Bytes));
    }

    [Fact]
    public void Consume_NoBuckets_AlwaysSucceeds()
    {
        using var limiter = RateLimiter.FromConfig(null, _time);
        Assert.True(limiter.IsUnlimited);
        for (int i = 0; i < 1000; i++)
        {
            Assert.True(limiter.Consume(1 << 20, TokenType.Bytes));
            Assert.True(limiter.Consume(1, TokenType.Ops));
        }
    }

    [Fact]
    public void Update_WhileBlocked_AppliesNewRateAndUnblocks()
    {
        using var limiter = new RateLimiter(new TokenBucket(100, 0, 1000, _time), null, _time);
        Assert.True(limiter.Consume(100, TokenType.Bytes));
        Assert.False(limiter.Consume(50, TokenType.Bytes));
        limiter.Update(new RateLimiterConfig { Bandwidth = new TokenBucketConfig { Size = 1_000_000, RefillTime = 1000 } });
        Assert.False(limiter.IsBlocked);
        Assert.True(limiter.Consume(500_000, TokenType.Bytes));
        Assert.Equal(1_000_000, limiter.Bandwidth!.Size);
    }

    [Fact]
    public void Update_SizeZero_DisablesBucket()
    {
        using var limiter = new RateLimiter(new TokenBucket(100, 0, 1000, _time), null, _time);
        limiter.Update(new RateLimiterConfig { Bandwidth = new TokenBucketConfig { Size = 0, RefillTime = 1000 } });
        Assert.True(limiter.IsUnlimited);
    }

    [Fact]
    public void ManualReplenish_ReturnsTokens()
    {
        using var limiter = new RateLimiter(new TokenBucket(100, 0, 1000, _time), null, _time);
        Assert.True(limiter.Consume(100, TokenType.Bytes));
        limiter.ManualReplenish(60, TokenType.Bytes);
        Assert.True(limiter.Consume(60, TokenType.Bytes));
    }
}
