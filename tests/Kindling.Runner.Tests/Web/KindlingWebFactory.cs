using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Kindling.Runner.Cli;
using Kindling.Runner.Forges;
using Kindling.Runner.Forges.Local;
using Kindling.Runner.Jobs;
using Kindling.Runner.Scheduling;
using Kindling.Runner.Web;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Tests.Web;

/// <summary>
/// The runner's web host exactly as <c>kindling daemon</c> composes it (RunnerHost.ConfigureServices +
/// UseKindlingWeb), with the stub launcher, two local tenants, tokens and users, in a temp state directory.
/// In-memory (TestServer) by default; <see cref="StartKestrel"/> puts it on a free loopback port for a browser.
/// </summary>
public sealed partial class KindlingWebFactory : WebApplicationFactory<KindlingWebFactory>
{
    public const string AdminToken = "admin-token-0123456789abcdef";
    public const string ReadOnlyToken = "readonly-token-0123456789abcdef";
    public const string AdminUser = "ada";
    public const string AdminPassword = "correct horse battery staple";
    public const string ReadOnlyUser = "rita";
    public const string ReadOnlyPassword = "look but do not touch";
    public const string SecretValue = "s3cr3t-value-that-must-never-show";
    public const string AcmeSubmitToken = "acme-submit-token-0123456789abcdef";
    public const string InitechSubmitToken = "initech-submit-token-0123456789abcdef";

    private static readonly Lazy<(string Admin, string ReadOnly)> Hashes =
        new(() => (WebAuth.HashPassword(AdminPassword), WebAuth.HashPassword(ReadOnlyPassword)));

    private readonly IReadOnlyDictionary<string, string?> _overrides;

    /// <param name="overrides">Configuration on top of <see cref="Config"/> (a fleet test's store and host name).</param>
    public KindlingWebFactory(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        StateDirectory = Directory.CreateTempSubdirectory("kindling-web-").FullName;
        _overrides = overrides ?? new Dictionary<string, string?>();
    }

    public string StateDirectory { get; }

    public Dictionary<string, string?> Config => new()
    {
        ["Kindling:StateDirectory"] = StateDirectory,
        ["Kindling:Host:Vcpus"] = "8", ["Kindling:Host:MemoryMib"] = "8192", ["Kindling:Host:Oversubscription"] = "2",
        ["Kindling:Pools:0:Name"] = "default", ["Kindling:Pools:0:Labels:0"] = "self-hosted", ["Kindling:Pools:0:Labels:1"] = "kindling",
        ["Kindling:Pools:0:Vcpus"] = "2", ["Kindling:Pools:0:MemoryMib"] = "512",
        ["Kindling:Tenants:0:Name"] = "acme", ["Kindling:Tenants:0:Forge:Kind"] = "local",
        ["Kindling:Tenants:0:Quota:MaxVms"] = "4", ["Kindling:Tenants:0:Weight"] = "2",
        ["Kindling:Tenants:0:Secrets:DEPLOY_KEY:Value"] = SecretValue,
        ["Kindling:Tenants:1:Name"] = "initech", ["Kindling:Tenants:1:Forge:Kind"] = "local", ["Kindling:Tenants:1:Quota:MaxVms"] = "2",
        ["Kindling:Tenants:0:SubmitToken"] = AcmeSubmitToken, ["Kindling:Tenants:1:SubmitToken"] = InitechSubmitToken,
        ["Kindling:Launcher:Kind"] = "stub", ["Kindling:Launcher:Network"] = "false",
        ["Kindling:Launcher:StubJobDuration"] = "00:00:00.010",
        ["Kindling:PollInterval"] = "00:00:00.050",
        ["Kindling:Web:AdminToken"] = AdminToken, ["Kindling:Web:ReadOnlyToken"] = ReadOnlyToken,
        ["Kindling:Web:Users:0:Name"] = AdminUser, ["Kindling:Web:Users:0:PasswordHash"] = Hashes.Value.Admin, ["Kindling:Web:Users:0:Role"] = "admin",
        ["Kindling:Web:Users:1:Name"] = ReadOnlyUser, ["Kindling:Web:Users:1:PasswordHash"] = Hashes.Value.ReadOnly, ["Kindling:Web:Users:1:Role"] = "read-only",
        ["Kindling:Web:LogPollInterval"] = "00:00:00.020",
    };

    public JobStore Store => Services.GetRequiredService<JobStore>();
    public JobDispatcher Dispatcher => Services.GetRequiredService<JobDispatcher>();
    public LocalForge Forge(string tenant) => (LocalForge)Services.GetRequiredService<ForgeRegistry>().For(tenant);

    /// <summary>Serves on a free 127.0.0.1 port (Kestrel) and returns its base address.</summary>
    public Uri StartKestrel()
    {
        UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        StartServer();
        string address = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.TrimEnd('/') + "/");
    }

    /// <summary>Submits a job to the tenant's local forge and starts it (no daemon loop: the test drives the dispatcher).</summary>
    public async Task<long> SubmitAsync(string tenant, JobSpec spec, string repository = "acme/app", bool start = true)
    {
        string forgeJobId = Forge(tenant).Submit(spec, Specs.Labels, repository);
        await Dispatcher.PollAsync(CancellationToken.None);
        if (start)
        {
            Dispatcher.AdmitAndStart(CancellationToken.None);
        }

        return Store.FindByForgeJob("local", forgeJobId)!.Id;
    }

    public async Task<JobWithResult> WaitForAsync(long id, Func<JobWithResult, bool> done, TimeSpan? timeout = null)
    {
        // Generous: the wait is for the stub's milliseconds of work, but CI machines are shared and loaded.
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(120);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            JobWithResult j = Store.GetWithResult(id)!;
            if (done(j))
            {
                return j;
            }

            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"job {id} did not get there within {limit}; it is {j.Job.State}: " +
                    string.Join("; ", Store.Transitions(id).Select(t => $"{t.From}→{t.To}: {t.Reason}")));
            }

            await Task.Delay(TimeSpan.FromMilliseconds(20));
        }
    }

    public Task<JobWithResult> WaitCleanedAsync(long id) => WaitForAsync(id, j => j.Job.State == JobState.Cleaned);

    public HttpClient Client(string? token = null)
    {
        HttpClient c = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        if (token is not null)
        {
            c.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return c;
    }

    /// <summary>A browser-like session: signs in through the login form (with its anti-forgery token).</summary>
    public async Task<HttpClient> SignedInAsync(string user, string password)
    {
        HttpClient c = Client();
        string csrf = await CsrfAsync(c, "/login");
        using HttpResponseMessage r = await c.PostAsync("/login", Form(csrf, ("user", user), ("password", password)));
        Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode);
        return c;
    }

    /// <summary>The anti-forgery token of a page's forms (the cookie half stays in the client's cookie jar).</summary>
    public static async Task<string> CsrfAsync(HttpClient c, string page)
    {
        string html = await c.GetStringAsync(page);
        return CsrfField().Match(html) is { Success: true } m ? m.Groups[1].Value : throw new InvalidOperationException($"{page} has no anti-forgery field");
    }

    public static FormUrlEncodedContent Form(string? csrf, params (string Key, string Value)[] fields) =>
        new([.. fields.Select(f => KeyValuePair.Create(f.Key, f.Value)), .. csrf is null ? [] : new[] { KeyValuePair.Create(WebAuth.AntiforgeryFieldName, csrf) }]);

    private bool _started;

    protected override IHost CreateHost(IHostBuilder builder)
    {
        IHost host = base.CreateHost(builder);
        _started = true;
        return host;
    }

    /// <summary>Runs after the factory's own content-root guess (the solution folder), which this host does not use.</summary>
    protected override void ConfigureWebHost(IWebHostBuilder builder) => builder.UseContentRoot(StateDirectory);

    protected override IHostBuilder CreateHostBuilder() => new HostBuilder()
        .ConfigureAppConfiguration(c => c.AddInMemoryCollection(Config).AddInMemoryCollection(_overrides))
        .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddFilter("Microsoft.AspNetCore.DataProtection", LogLevel.Error))
        .ConfigureServices((ctx, s) => RunnerHost.ConfigureServices(s, ctx.Configuration, runDaemon: false))
        .UseContentRoot(StateDirectory)
        .ConfigureWebHost(w => w.Configure(app => app.UseKindlingWeb()));

    public override async ValueTask DisposeAsync()
    {
        if (_started)
        {
            // Jobs a test left running are cancelled, so their stub VMs do not outlive it.
            var cancellations = Services.GetRequiredService<JobCancellations>();
            foreach (long id in Dispatcher.ActiveJobs)
            {
                cancellations.TryCancel(id, "the test ended");
            }

            await Dispatcher.WaitIdleAsync();
        }

        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(StateDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();
}
