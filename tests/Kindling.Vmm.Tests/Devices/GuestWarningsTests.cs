using Kindling.Testing;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.EventLoop;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Tests.Devices.Virtio;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Tests.Devices;

/// <summary>A guest must not flood the host log (issue 18): the first warning in full, then one summary per interval.</summary>
public sealed class GuestWarningsTests
{
    private const string Template = "device {Name}: chain {Head} malformed";

    [Fact]
    public void Warn_Flood_LogsTheFirstThenOneSummaryPerInterval()
    {
        var time = new FakeTimeProvider();
        var log = new LineLogger();
        var warnings = new GuestWarnings(log, time, TimeSpan.FromSeconds(60));

        for (int i = 0; i < 1000; i++)
        {
            warnings.Warn(Template, "blk", i);
        }

        Assert.Equal("device blk: chain 0 malformed", Assert.Single(log.Lines));
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(2, log.Lines.Count);
        Assert.StartsWith($"999 more \"{Template}\" since 2026-01-01T00:00:00", log.Lines[1], StringComparison.Ordinal);
        Assert.Equal(1000, warnings.Totals[Template]);
    }

    [Fact]
    public void Warn_AfterAQuietInterval_IsLoggedInFullAgain()
    {
        var time = new FakeTimeProvider();
        var log = new LineLogger();
        var warnings = new GuestWarnings(log, time, TimeSpan.FromSeconds(60));
        warnings.Warn(Template, "blk", 1);
        warnings.Warn(Template, "blk", 2);
        time.Advance(TimeSpan.FromSeconds(60)); // summary of 1
        time.Advance(TimeSpan.FromSeconds(60)); // quiet: the window closes, no summary

        warnings.Warn(Template, "blk", 3);

        Assert.Equal(3, log.Lines.Count);
        Assert.StartsWith("1 more", log.Lines[1], StringComparison.Ordinal);
        Assert.Equal("device blk: chain 3 malformed", log.Lines[2]);
    }

    [Fact]
    public void Warn_DifferentWarnings_AreLimitedSeparately()
    {
        var log = new LineLogger();
        var warnings = new GuestWarnings(log, new FakeTimeProvider());

        warnings.Warn(Template, "a", 1);
        warnings.Warn("other {X}", 1);
        warnings.Warn(Template, "a", 2);

        Assert.Equal(["device a: chain 1 malformed", "other 1"], log.Lines);
    }

    [Fact]
    public void VirtioRng_FloodOfMalformedRequests_LogsOneWarningAndCountsThemAll()
    {
        var time = new FakeTimeProvider();
        var log = new LineLogger();
        using var loop = new EpollLoop(time);
        var rng = new VirtioRng(loop: loop, logger: log);
        var h = new DeviceHarness(rng);

        for (int i = 0; i < 200; i++)
        {
            h.Q.Push(DriverBuffer.DeviceReads(h.Q.Alloc(8), 8));
            h.Driver.Notify(0);
            h.Q.TakeAllUsed();
        }

        Assert.Single(log.Lines);
        Assert.Equal(200, Assert.Single(rng.Warnings.Totals).Value);
        time.Advance(GuestWarnings.DefaultInterval);
        Assert.StartsWith("199 more", log.Lines[1], StringComparison.Ordinal);
    }

    private sealed class LineLogger : ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Lines)
            {
                Lines.Add(formatter(state, exception));
            }
        }
    }
}
