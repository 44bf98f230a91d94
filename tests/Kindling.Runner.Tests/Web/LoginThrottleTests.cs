using System.Net;
using Kindling.Runner.Configuration;
using Kindling.Runner.Web;
using Kindling.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Web;

/// <summary>The login form's lockout after failed sign-ins, on a fake clock.</summary>
public sealed class LoginThrottleTests
{
    private static readonly IPAddress Alice = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress Bob = IPAddress.Parse("2001:db8::20");
    private readonly FakeTimeProvider _time = new();

    private LoginThrottle Throttle(int failures = 5, int lockoutMinutes = 5) =>
        new(Options.Create(new KindlingOptions { Web = new WebOptions { LoginFailuresBeforeLockout = failures, LoginLockout = TimeSpan.FromMinutes(lockoutMinutes) } }),
            _time, NullLogger<LoginThrottle>.Instance);

    private static void Fail(LoginThrottle t, IPAddress who, int times)
    {
        for (int i = 0; i < times; i++)
        {
            Assert.Null(t.Failed(who));
        }
    }

    [Fact]
    public void FifthFailureInARow_LocksTheAddressOutUntilTheLockoutEnds()
    {
        LoginThrottle t = Throttle();
        Fail(t, Alice, 4);
        Assert.Null(t.RetryAfter(Alice));

        Assert.Equal(TimeSpan.FromMinutes(5), t.Failed(Alice));
        Assert.Equal(TimeSpan.FromMinutes(5), t.RetryAfter(Alice));
        _time.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal(TimeSpan.FromMinutes(1), t.RetryAfter(Alice));
        Assert.Null(t.RetryAfter(Bob));

        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Null(t.RetryAfter(Alice));
        Fail(t, Alice, 4); // a fresh count after the lockout
        Assert.NotNull(t.Failed(Alice));
    }

    [Fact]
    public void Success_ClearsTheCount()
    {
        LoginThrottle t = Throttle();
        Fail(t, Alice, 4);
        t.Succeeded(Alice);
        Fail(t, Alice, 4);
        Assert.Null(t.RetryAfter(Alice));
    }

    [Fact]
    public void FailuresALockoutPeriodApart_AreNotInARow()
    {
        LoginThrottle t = Throttle();
        for (int i = 0; i < 10; i++)
        {
            Assert.Null(t.Failed(Alice));
            _time.Advance(TimeSpan.FromMinutes(5));
        }
    }

    [Fact]
    public void EachAddressCountsAlone()
    {
        LoginThrottle t = Throttle(failures: 2);
        Assert.Null(t.Failed(Alice));
        Assert.Null(t.Failed(Bob));
        Assert.NotNull(t.Failed(Bob));
        Assert.NotNull(t.RetryAfter(Bob));
        Assert.Null(t.RetryAfter(Alice));
    }

    [Fact]
    public void ZeroFailures_NeverLocks()
    {
        LoginThrottle t = Throttle(failures: 0);
        Fail(t, Alice, 100);
        Assert.Null(t.RetryAfter(Alice));
    }
}
