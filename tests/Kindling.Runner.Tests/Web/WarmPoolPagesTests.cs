using Kindling.Runner.Launch.Snapshots;
using Kindling.Runner.Web.Pages;

namespace Kindling.Runner.Tests.Web;

/// <summary>The overview's warm slots panel, as markup (the golden snapshots panel is tested the same way).</summary>
public sealed class WarmPoolPagesTests
{
    private static readonly DateTimeOffset At = new(2026, 12, 5, 4, 0, 0, TimeSpan.Zero);

    [Fact]
    public void WarmPools_ReadyRefillingAndAFailure_OneRowEachWithTargetAndError()
    {
        string html = OverviewPage.WarmPools(
        [
            new WarmPoolStatus("default", 2, 1, 1, 7, null, null, null, null),
            new WarmPoolStatus("big", 3, 0, 0, 0, "no golden snapshot 0123 yet (being taken)", "cannot open /dev/kvm", At, At.AddSeconds(10)),
        ]).Value;

        Assert.Contains("id=\"warm-pools\"", html, StringComparison.Ordinal);
        Assert.Contains("<td>default</td><td>1 / 2", html, StringComparison.Ordinal);
        Assert.Contains("<td class=\"num\">1</td><td class=\"num\">7</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>big</td><td>0 / 3", html, StringComparison.Ordinal);
        Assert.Contains("no golden snapshot 0123 yet (being taken)", html, StringComparison.Ordinal);
        Assert.Contains("cannot open /dev/kvm", html, StringComparison.Ordinal);
        Assert.Contains("next try", html, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", html, StringComparison.Ordinal);
    }

    [Fact]
    public void WarmPools_NoPoolKeepsSlots_NoPanel() => Assert.Equal("", OverviewPage.WarmPools(null).Value);
}
