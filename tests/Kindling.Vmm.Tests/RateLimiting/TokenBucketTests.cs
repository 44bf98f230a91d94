using Kindling.Testing;
using Kindling.Vmm.RateLimiting;

namespace Kindling.Vmm.Tests.RateLimiting;

public sealed class TokenBucketTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public void Create_ZeroSizeOrRefill_IsUnlimited()
    {
        Assert.Null(TokenBucket.Create(0, 0, 100, _time));
        Assert.Null(TokenBucket.Create(100, 0, 0, _time));
        Assert.NotNull(TokenBucket.Create(100, 0, 100, _time));
    }

    [Fact]
    public void Reduce_WithinBudget_SucceedsThenFails()
    {
        var b = new TokenBucket(1000, 0, 1000, _time);
        Assert.Equal(BucketReduction.Success, b.Reduce(600));
        Assert.Equal(BucketReduction.Failure, b.Reduce(600));
        Assert.Equal(400, b.Budget);
    }

    [Fact]
    public void Reduce_AfterHalfRefillTime_HasHalfTheSize()
    {
        var b = new TokenBucket(1000, 0, 1000, _time);
        Assert.Equal(BucketReduction.Success, b.Reduce(1000));
        _time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(BucketReduction.Failure, b.Reduce(501));
        Assert.Equal(BucketReduction.Success, b.Reduce(500));
        Assert.Equal(0, b.Budget);
    }

    [Fact]
    public void Reduce_OneTimeBurst_SpentFirstAndNeverRefilled()
    {
        var b = new TokenBucket(100, 500, 1000, _time);
        Assert.Equal(BucketReduction.Success, b.Reduce(500));
        Assert.Equal(0, b.OneTimeBurst);
        Assert.Equal(100, b.Budget);
        Assert.Equal(BucketReduction.Success, b.Reduce(100));
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(BucketReduction.Success, b.Reduce(100));
        Assert.Equal(0, b.OneTimeBurst);
        Assert.Equal(BucketReduction.Failure, b.Reduce(1));
    }

    [Fact]
    public void Reduce_LargerThanSize_OverConsumesAndEmpties()
    {
        var b = new TokenBucket(100, 0, 1000, _time);
        Assert.Equal(BucketReduction.OverConsumption, b.Reduce(250));
        Assert.Equal(0, b.Budget);
        Assert.Equal(150, b.Overdraft);
    }

    [Fact]
    public void TimeUntil_EmptyBucket_IsProportional()
    {
        var b = new TokenBucket(1000, 0, 200, _time);
        b.Reduce(1000);
        Assert.Equal(TimeSpan.FromMilliseconds(50), b.TimeUntil(250));
    }
}
