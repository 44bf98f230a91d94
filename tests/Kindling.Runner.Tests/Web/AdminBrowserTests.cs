using System.Diagnostics;
using Kindling.Runner.Jobs;
using Kindling.Testing;
using Microsoft.Playwright;

namespace Kindling.Runner.Tests.Web;

/// <summary>
/// The admin page in a real browser: Playwright driving Debian's chromium (headless, never a downloaded browser)
/// against the runner's web host on a free loopback port. Screenshots go to artifacts/screenshots/.
/// </summary>
public sealed class AdminBrowserTests : IAsyncLifetime
{
    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync",
    ];

    private static readonly float Timeout = (float)TimeSpan.FromSeconds(20).TotalMilliseconds;

    private readonly KindlingWebFactory _web = new();
    private readonly string _profile = Directory.CreateTempSubdirectory("kindling-chromium-").FullName;
    private IPlaywright? _playwright;
    private IBrowserContext? _browser;
    private Uri _base = null!;

    public static string Screenshots => Path.Combine(RepoPaths.Root, "artifacts", "screenshots");

    public async ValueTask InitializeAsync()
    {
        if (HostFacts.ChromiumUnavailableReason is not null)
        {
            return;
        }

        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        _base = _web.StartKestrel();
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = HostFacts.ChromiumPath, Headless = true, Args = ChromiumArgs, BaseURL = _base.ToString(),
            ViewportSize = new ViewportSize { Width = 1280, Height = 900 }, Timeout = Timeout,
        });
        _browser.SetDefaultTimeout(Timeout);
        Directory.CreateDirectory(Screenshots);
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        await _web.DisposeAsync();
        Directory.Delete(_profile, recursive: true);
    }

    [ChromiumFact]
    public async Task JobPage_LiveJob_LinesAppearLiveThenCancelChangesState()
    {
        var clock = Stopwatch.StartNew();
        long done = await _web.SubmitAsync("initech", Specs.Steps("lint", ("Lint", "echo linting\nexit 1")), "initech/tps");
        await _web.WaitCleanedAsync(done);
        // A job that keeps talking: a burst, then a line every 100 ms for a minute (it is cancelled long before).
        string run = string.Join('\n', Enumerable.Range(0, 500).Select(i => $"echo burst {i}")
            .Concat(Enumerable.Range(0, 600).SelectMany(i => new[] { $"echo tick {i}", "sleep 0.1" })));
        long id = await _web.SubmitAsync("acme", Specs.Steps("integration", ("Setup", "echo preparing"), ("Talk", run), ("Never", "echo unreachable")), "acme/app");

        IPage page = _browser!.Pages.Count > 0 ? _browser.Pages[0] : await _browser.NewPageAsync();
        await page.GotoAsync("/");
        Assert.EndsWith("/login", new Uri(page.Url).AbsolutePath, StringComparison.Ordinal);
        await page.FillAsync("input[name=user]", KindlingWebFactory.AdminUser);
        await page.FillAsync("input[name=password]", KindlingWebFactory.AdminPassword);
        await page.ClickAsync("button[type=submit]");
        await page.WaitForSelectorAsync("h1:text('Overview')");
        await _web.WaitForAsync(id, j => j.Job.State == JobState.Running);
        await page.ReloadAsync();
        await page.WaitForSelectorAsync("h1:text('Overview')");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "overview.png"), FullPage = true });

        await page.ClickAsync($"a[href='/jobs/{id}'] >> nth=0");
        await page.WaitForSelectorAsync("#job-state[data-state=running]");
        await page.WaitForFunctionAsync("() => document.getElementById('log').textContent.includes('tick 5\\n')");
        string before = await page.InnerTextAsync("#log");
        // The page replayed what was already there; now lines must keep arriving while it stays open.
        int seen = await page.EvaluateAsync<int>(
            "() => Math.max(...[...document.getElementById('log').textContent.matchAll(/tick (\\d+)\\n/g)].map(m => +m[1]))");
        await page.WaitForFunctionAsync($"() => document.getElementById('log').textContent.includes('tick {seen + 10}\\n')");
        string after = await page.InnerTextAsync("#log");
        Assert.Contains("burst 499", before, StringComparison.Ordinal);
        Assert.True(after.Length > before.Length, "the log grew while the page was open");
        Assert.Contains("── step 2: Talk", after, StringComparison.Ordinal);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "job-running.png"), FullPage = true });

        page.Dialog += (_, dialog) => dialog.AcceptAsync();
        await page.ClickAsync("button:text('Cancel job')");
        await page.WaitForSelectorAsync("#job-state[data-state=cancelled]");
        Assert.Equal("cancelled", await page.InnerTextAsync("#job-state"));
        await page.WaitForSelectorAsync("#log-status:text('log complete')");
        Assert.Equal(JobState.Cancelled, (await _web.WaitCleanedAsync(id)).Result);
        Assert.Equal(0, await page.Locator("button:text('Cancel job')").CountAsync());
        await page.WaitForSelectorAsync("#timeline :text('cancelled by ada')");
        // The cancel ended the step that ran (the job's later success() step was skipped), not only the VM.
        await page.WaitForSelectorAsync("#steps tr[data-outcome=cancelled] .badge:text('cancelled')");
        await page.WaitForSelectorAsync("#steps tr[data-outcome=skipped]");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "job-cancelled.png"), FullPage = true });

        await page.GotoAsync("/jobs");
        await page.WaitForSelectorAsync($"a[href='/jobs/{done}']");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, "jobs.png"), FullPage = true });
        TestContext.Current.SendDiagnosticMessage($"browser test took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    /// <summary>
    /// A job that fails while its page is open gains the Re-run button without a reload. The job runs until the
    /// test ends it (its VM dies under it, which fails the job), so a slow browser on a loaded machine cannot miss
    /// the running state.
    /// </summary>
    [ChromiumFact]
    public async Task JobPage_JobFailsWhileOpen_ReRunAppearsWithoutReload()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("flaky", ("Wait", "echo waiting\nsleep 3600"), ("Never", "echo unreachable")), "acme/app");
        IPage page = await _browser!.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("input[name=password]", KindlingWebFactory.AdminToken);
        await page.ClickAsync("button[type=submit]");
        JobWithResult running = await _web.WaitForAsync(id, j => j.Job.State == JobState.Running);
        await page.GotoAsync($"/jobs/{id}");
        await page.WaitForSelectorAsync("#job-state[data-state=running]");
        Assert.False(await page.Locator("button:text('Re-run')").IsVisibleAsync());
        await page.EvaluateAsync("() => { window.__samePage = true; }");

        Process.GetProcessById(running.Job.VmmPid!.Value).Kill(); // the VM dies mid-job: the job fails
        await page.WaitForSelectorAsync("#job-state[data-state=failed]");
        await page.Locator("button:text('Re-run')").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Visible });
        Assert.True(await page.EvaluateAsync<bool>("() => window.__samePage === true"), "the page was reloaded");
        Assert.Equal(0, await page.Locator("button:text('Cancel job')").CountAsync());
    }

    [ChromiumFact]
    public async Task JobsPage_SubmittedJob_ListedWithSourceSubmitted()
    {
        using HttpClient api = new() { BaseAddress = _base };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", KindlingWebFactory.AcmeSubmitToken);
        using HttpResponseMessage r = await api.PostAsync("/api/jobs", new StringContent(
            """{"name": "submitted-in-browser", "runs_on": ["kindling"], "steps": [{"run": "echo hi"}]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(System.Net.HttpStatusCode.Created, r.StatusCode);
        long id = long.Parse(r.Headers.Location!.ToString().Split('/')[^1], System.Globalization.CultureInfo.InvariantCulture);
        long forge = await _web.SubmitAsync("acme", Specs.Steps("from-the-forge", ("Hello", "echo hello")), "acme/app");
        await _web.WaitCleanedAsync(id);
        await _web.WaitCleanedAsync(forge);
        IPage page = await _browser!.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("input[name=password]", KindlingWebFactory.AdminToken);
        await page.ClickAsync("button[type=submit]");
        await page.GotoAsync("/jobs");
        ILocator submitted = page.Locator("tr", new PageLocatorOptions { Has = page.Locator($"a[href='/jobs/{id}']") });
        ILocator local = page.Locator("tr", new PageLocatorOptions { Has = page.Locator($"a[href='/jobs/{forge}']") });
        Assert.Equal("submitted", (await submitted.Locator("td.source").InnerTextAsync()).Trim());
        Assert.Equal("local", (await local.Locator("td.source").InnerTextAsync()).Trim());
        Assert.Contains("submitted-in-browser", await submitted.InnerTextAsync(), StringComparison.Ordinal);
    }

    [ChromiumFact]
    public async Task Pages_PhoneViewport_FitWithoutSideScrolling()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("phone", ("Hello", "echo hello from a phone")), "acme/app");
        await _web.WaitCleanedAsync(id);
        IPage page = await _browser!.NewPageAsync();
        await page.SetViewportSizeAsync(390, 844);
        await page.GotoAsync("/login");
        await page.FillAsync("input[name=password]", KindlingWebFactory.AdminToken);
        await page.ClickAsync("button[type=submit]");
        foreach ((string path, string shot) in new[] { ("/", "overview-phone.png"), ($"/jobs/{id}", "job-phone.png"), ("/tenants", "tenants-phone.png") })
        {
            await page.GotoAsync(path);
            if (path.StartsWith("/jobs/", StringComparison.Ordinal))
            {
                await page.WaitForSelectorAsync("#log-status:text('log complete')");
            }

            int overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - document.documentElement.clientWidth");
            Assert.True(overflow <= 0, $"{path} is {overflow}px wider than a phone screen");
            await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, shot), FullPage = true });
        }
    }
}
