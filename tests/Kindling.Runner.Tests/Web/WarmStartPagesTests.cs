using Kindling.Runner.Jobs;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Runner.Web.Pages;

namespace Kindling.Runner.Tests.Web;

/// <summary>The job page's VM phases and the overview's golden snapshots, as markup.</summary>
public sealed class WarmStartPagesTests
{
    [Fact]
    public void Phases_RestoreThenJobReceived_EachWithTheTimeSinceTheOneBefore()
    {
        string html = JobPage.Phases([new JobPhase("restore", 12.4), new JobPhase("job received", 15.6), new JobPhase("first step", 16)]).Value;

        Assert.Contains("<li><span class=\"when\">12 ms</span>restore</li>", html, StringComparison.Ordinal);
        Assert.Contains("<li><span class=\"when\">3 ms</span>job received</li>", html, StringComparison.Ordinal);
        Assert.Contains("<li><span class=\"when\">0 ms</span>first step</li>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Phases_NoneRecorded_Nothing() => Assert.Equal("", JobPage.Phases([]).Value);

    [Fact]
    public void Snapshots_PresentAndBeingTaken_OneRowEachWithStateUsesAndFailures()
    {
        DateTimeOffset created = new(2026, 12, 5, 0, 0, 0, TimeSpan.Zero);
        string html = OverviewPage.Snapshots(
        [
            new SnapshotStatus("aaaa", "rootfs.ext4, vmlinux, None, 2 vCPU, 2048 MiB", true, 300L << 20, created, created.AddMinutes(5), 7, 1, "refused", false),
            new SnapshotStatus("bbbb", "rootfs.ext4, vmlinux, None, 4 vCPU, 4096 MiB", false, 0, null, null, 0, 0, null, true),
        ]).Value;

        Assert.Contains("<code>aaaa</code>", html, StringComparison.Ordinal);
        Assert.Contains("<td>present</td>", html, StringComparison.Ordinal);
        Assert.Contains("300 MiB", html, StringComparison.Ordinal);
        Assert.Contains("<td>taking</td>", html, StringComparison.Ordinal);
        Assert.Contains("title=\"refused\">1</td>", html, StringComparison.Ordinal);
        Assert.Contains(">7</td>", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Snapshots_WarmStartsOff_NoPanel() => Assert.Equal("", OverviewPage.Snapshots(null).Value);
}
