using System.Net;
using Kindling.Runner.Jobs;
using Kindling.Runner.Web;

namespace Kindling.Runner.Tests.Web;

/// <summary>Every page renders its data for a signed-in user; markup from job data is encoded.</summary>
public sealed class AdminPagesTests : IAsyncLifetime
{
    private readonly KindlingWebFactory _web = new();
    private HttpClient _c = null!;

    public async ValueTask InitializeAsync() => _c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);

    public ValueTask DisposeAsync() => _web.DisposeAsync();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Pages_AfterJobs_ShowTheirData()
    {
        long ok = await _web.SubmitAsync("acme", Specs.Steps("<b>build</b>", ("Compile", "echo '<script>alert(1)</script>'")), "acme/app");
        long bad = await _web.SubmitAsync("initech", Specs.Steps("deploy", ("Push", "exit 7")), "initech/tps");
        await _web.WaitCleanedAsync(ok);
        await _web.WaitCleanedAsync(bad);

        string overview = await _c.GetStringAsync("/", Ct);
        Assert.Contains("of 16 committed", overview, StringComparison.Ordinal);
        Assert.Contains("href=\"/jobs?tenant=initech\"", overview, StringComparison.Ordinal);

        string jobs = await _c.GetStringAsync("/jobs?state=failed", Ct);
        Assert.Contains($"href=\"/jobs/{bad}\"", jobs, StringComparison.Ordinal);
        Assert.DoesNotContain($"href=\"/jobs/{ok}\"", jobs, StringComparison.Ordinal);

        string job = await _c.GetStringAsync($"/jobs/{ok}", Ct);
        Assert.Contains("&lt;b&gt;build&lt;/b&gt;", job, StringComparison.Ordinal);
        Assert.DoesNotContain("<b>build</b>", job, StringComparison.Ordinal);
        Assert.Contains("Compile", job, StringComparison.Ordinal);
        Assert.Contains($"data-stream=\"/jobs/{ok}/log/stream\"", job, StringComparison.Ordinal);
        Assert.Contains("VM config (vm.json)", job, StringComparison.Ordinal);

        string failed = await _c.GetStringAsync($"/jobs/{bad}", Ct);
        Assert.Contains("class=\"badge s-failed\">7<", failed, StringComparison.Ordinal);
        Assert.Contains("<tr data-step=\"0\" data-outcome=\"failure\">", failed, StringComparison.Ordinal);
        Assert.Contains(">Started</th>", failed, StringComparison.Ordinal);
        Assert.Contains("Re-run", failed, StringComparison.Ordinal);

        string tenants = await _c.GetStringAsync("/tenants", Ct);
        Assert.Contains("DEPLOY_KEY", tenants, StringComparison.Ordinal);
        Assert.Contains("none (local forge)", tenants, StringComparison.Ordinal);

        string images = await _c.GetStringAsync("/images", Ct);
        Assert.Contains("vmlinux.placeholder", images, StringComparison.Ordinal);

        Assert.Contains("<h1>VMs</h1>", await _c.GetStringAsync("/vms", Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task JobsPage_MoreThanAPage_LinksToOlderJobs()
    {
        for (int i = 0; i <= Kindling.Runner.Web.Pages.JobsPage.PageSize; i++)
        {
            _web.Forge("acme").Submit(Specs.Steps($"job-{i}", ("Ok", "echo ok")), Specs.Labels, "acme/app");
        }

        await _web.Dispatcher.PollAsync(Ct); // queued only: the list pages without running them
        string first = await _c.GetStringAsync("/jobs", Ct);
        Assert.Contains("rel=\"next\"", first, StringComparison.Ordinal);
        Assert.Contains("href=\"/jobs?before=2\"", first, StringComparison.Ordinal);
        string older = await _c.GetStringAsync("/jobs?before=2", Ct);
        Assert.Contains("href=\"/jobs/1\"", older, StringComparison.Ordinal);
        Assert.DoesNotContain("rel=\"next\"", older, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_UnknownJobOrState_Return404Or400()
    {
        using HttpResponseMessage missing = await _c.GetAsync("/jobs/424242", Ct);
        using HttpResponseMessage badState = await _c.GetAsync("/jobs?state=exploded", Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badState.StatusCode);
    }

    [Fact]
    public async Task StaticAssets_Anonymous_ServedWithLongCaching()
    {
        using HttpResponseMessage css = await _web.Client().GetAsync(StaticAssets.CssUrl, Ct);
        using HttpResponseMessage js = await _web.Client().GetAsync(StaticAssets.JsUrl, Ct);
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
        Assert.True(css.Headers.CacheControl?.MaxAge > TimeSpan.FromDays(30));
        Assert.Contains("EventSource", await js.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pages_Responses_CarrySecurityHeaders()
    {
        using HttpResponseMessage r = await _c.GetAsync("/", Ct);
        Assert.Contains("script-src 'self'", r.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        Assert.Equal("DENY", r.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("nosniff", r.Headers.GetValues("X-Content-Type-Options").Single());
    }
}
