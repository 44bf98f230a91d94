using System.Net;
using Kindling.Runner.Configuration;
using Kindling.Runner.Web;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Web;

/// <summary>Who may see and do what: anonymous, tokens, logins, roles, anti-forgery.</summary>
public sealed class WebAuthTests : IAsyncLifetime
{
    private readonly KindlingWebFactory _web = new();

    public static TheoryData<string> Pages => ["/", "/jobs", "/jobs/1", "/vms", "/tenants", "/images"];

    public static TheoryData<string> ApiGets =>
        ["/api/overview", "/api/host", "/api/jobs", "/api/jobs/1", "/api/jobs/1/log", "/api/vms", "/api/tenants", "/api/images", "/metrics"];

    public static TheoryData<string> Actions => ["/host/drain", "/host/undrain", "/host/reap", "/jobs/1/cancel", "/jobs/1/rerun"];

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _web.DisposeAsync();

    [Fact]
    public async Task Healthz_Anonymous_ReturnsOk()
    {
        using HttpResponseMessage r = await _web.Client().GetAsync("/healthz", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.Equal("ok", await r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [MemberData(nameof(Pages))]
    public async Task Page_Anonymous_RedirectsToLogin(string page)
    {
        using HttpResponseMessage r = await _web.Client().GetAsync(page, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, r.StatusCode);
        Assert.StartsWith("/login?ReturnUrl=", r.Headers.Location!.PathAndQuery, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ApiGets))]
    public async Task Api_Anonymous_Returns401(string path)
    {
        using HttpResponseMessage r = await _web.Client().GetAsync(path, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
    }

    [Theory]
    [MemberData(nameof(ApiGets))]
    public async Task Api_WrongToken_Returns401(string path)
    {
        using HttpResponseMessage r = await _web.Client("not-the-token-0123456789").GetAsync(path, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Actions))]
    public async Task Action_Anonymous_Returns401WithoutActing(string action)
    {
        using HttpResponseMessage r = await _web.Client().PostAsync(action, KindlingWebFactory.Form(null), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.False(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Api_ReadOnlyToken_ReadsButCannotPost()
    {
        HttpClient c = _web.Client(KindlingWebFactory.ReadOnlyToken);
        using HttpResponseMessage get = await c.GetAsync("/api/jobs", TestContext.Current.CancellationToken);
        using HttpResponseMessage post = await c.PostAsync("/api/host/drain", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, post.StatusCode);
        Assert.False(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Api_AdminTokenPost_NeedsNoAntiforgery()
    {
        using HttpResponseMessage r = await _web.Client(KindlingWebFactory.AdminToken).PostAsync("/api/host/drain", null, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, r.StatusCode);
        Assert.True(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Login_AdminPassword_SignsInAndShowsOverview()
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        string html = await c.GetStringAsync("/", TestContext.Current.CancellationToken);
        Assert.Contains("<h1>Overview</h1>", html, StringComparison.Ordinal);
        Assert.Contains(">ada<", html, StringComparison.Ordinal);
        Assert.Contains("Drain host", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_AdminTokenAsPassword_SignsInAsAdmin()
    {
        HttpClient c = await _web.SignedInAsync("", KindlingWebFactory.AdminToken);
        string html = await c.GetStringAsync("/", TestContext.Current.CancellationToken);
        Assert.Contains("admin token", html, StringComparison.Ordinal);
        Assert.Contains("Drain host", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(KindlingWebFactory.AdminUser, "wrong password")]
    [InlineData("nobody", KindlingWebFactory.AdminPassword)]
    [InlineData("", "not-a-token")]
    public async Task Login_WrongCredentials_Returns401AndNoSession(string user, string password)
    {
        HttpClient c = _web.Client();
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/login");
        using HttpResponseMessage r = await c.PostAsync("/login", KindlingWebFactory.Form(csrf, ("user", user), ("password", password)), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        Assert.Contains("role=\"alert\"", await r.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        using HttpResponseMessage after = await c.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Login_FiveFailuresInARow_LockOutEvenTheRightPassword()
    {
        HttpClient c = _web.Client();
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/login");
        HttpStatusCode[] codes = new HttpStatusCode[5];
        for (int i = 0; i < codes.Length; i++)
        {
            using HttpResponseMessage wrong = await c.PostAsync("/login", KindlingWebFactory.Form(csrf, ("user", KindlingWebFactory.AdminUser), ("password", $"guess {i}")),
                TestContext.Current.CancellationToken);
            codes[i] = wrong.StatusCode;
        }

        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 4), HttpStatusCode.TooManyRequests], codes);
        using HttpResponseMessage right = await c.PostAsync("/login",
            KindlingWebFactory.Form(csrf, ("user", KindlingWebFactory.AdminUser), ("password", KindlingWebFactory.AdminPassword)), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.InRange(right.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.Contains("Too many failed sign-ins", await right.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
        using HttpResponseMessage after = await c.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Login_WithoutAntiforgeryToken_Returns400()
    {
        HttpClient c = _web.Client();
        using HttpResponseMessage r = await c.PostAsync("/login",
            KindlingWebFactory.Form(null, ("user", KindlingWebFactory.AdminUser), ("password", KindlingWebFactory.AdminPassword)), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
    }

    [Fact]
    public async Task Login_OffSiteReturnUrl_RedirectsHome()
    {
        HttpClient c = _web.Client();
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/login");
        using HttpResponseMessage r = await c.PostAsync("/login", KindlingWebFactory.Form(csrf,
            ("user", KindlingWebFactory.AdminUser), ("password", KindlingWebFactory.AdminPassword), ("returnUrl", "//evil.example/")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode);
        Assert.Equal("/", r.Headers.Location!.OriginalString);
    }

    [Theory]
    [MemberData(nameof(Actions))]
    public async Task Action_AdminSessionWithoutAntiforgeryToken_Returns400(string action)
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        using HttpResponseMessage r = await c.PostAsync(action, KindlingWebFactory.Form(null), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.False(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Action_AdminSessionWithForgedToken_Returns400()
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        using HttpResponseMessage r = await c.PostAsync("/host/drain", KindlingWebFactory.Form("CfDJ8forged"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.False(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Action_AdminSessionWithToken_DrainsAndRedirects()
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/");
        using HttpResponseMessage r = await c.PostAsync("/host/drain", KindlingWebFactory.Form(csrf), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode);
        Assert.True(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
        string html = await c.GetStringAsync("/", TestContext.Current.CancellationToken);
        Assert.Contains("id=\"flash\"", html, StringComparison.Ordinal);
        Assert.Contains("Host drained", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Action_ReadOnlySessionWithToken_Returns403()
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.ReadOnlyUser, KindlingWebFactory.ReadOnlyPassword);
        string html = await c.GetStringAsync("/", TestContext.Current.CancellationToken);
        Assert.DoesNotContain("Drain host", html, StringComparison.Ordinal); // no buttons for what it may not do
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/");
        using HttpResponseMessage r = await c.PostAsync("/host/drain", KindlingWebFactory.Form(csrf), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        Assert.False(File.Exists(Path.Combine(_web.StateDirectory, "drained")));
    }

    [Fact]
    public async Task Logout_WithToken_EndsTheSession()
    {
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        string csrf = await KindlingWebFactory.CsrfAsync(c, "/");
        using HttpResponseMessage r = await c.PostAsync("/logout", KindlingWebFactory.Form(csrf), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.SeeOther, r.StatusCode);
        using HttpResponseMessage after = await c.GetAsync("/", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Redirect, after.StatusCode);
    }

    [Fact]
    public async Task Pages_AnyPage_NeverRenderSecretsTokensOrHashes()
    {
        long id = await _web.SubmitAsync("acme", Specs.Steps("leak", ("Leak", "echo the key is $DEPLOY_KEY")));
        await _web.WaitCleanedAsync(id);
        HttpClient c = await _web.SignedInAsync(KindlingWebFactory.AdminUser, KindlingWebFactory.AdminPassword);
        string[] bodies = await Task.WhenAll(new[] { "/", "/jobs", $"/jobs/{id}", "/vms", "/tenants", "/images", $"/jobs/{id}/log", "/api/tenants", $"/api/jobs/{id}", "/api/overview" }
            .Select(p => c.GetStringAsync(p, TestContext.Current.CancellationToken)));
        string hash = _web.Config["Kindling:Web:Users:0:PasswordHash"]!;
        foreach (string body in bodies)
        {
            Assert.DoesNotContain(KindlingWebFactory.SecretValue, body, StringComparison.Ordinal);
            Assert.DoesNotContain(KindlingWebFactory.AdminToken, body, StringComparison.Ordinal);
            Assert.DoesNotContain(KindlingWebFactory.ReadOnlyToken, body, StringComparison.Ordinal);
            Assert.DoesNotContain(hash, body, StringComparison.Ordinal);
        }

        Assert.Contains("DEPLOY_KEY", bodies[4], StringComparison.Ordinal); // the secret's name is shown, not its value
        Assert.Contains("the key is ***", bodies[6], StringComparison.Ordinal);
    }

    [Fact]
    public void HashPassword_Verify_AcceptsThePasswordOnly()
    {
        string hash = WebAuth.HashPassword("hunter2-but-longer");
        Assert.True(WebAuth.IsPasswordHash(hash));
        Assert.True(WebAuth.VerifyPassword(hash, "hunter2-but-longer"));
        Assert.False(WebAuth.VerifyPassword(hash, "hunter2"));
        Assert.False(WebAuth.IsPasswordHash("hunter2-but-longer"));
    }

    [Fact]
    public void Validate_PlainPasswordOrShortToken_NamesTheKey()
    {
        var o = new KindlingOptions
        {
            StateDirectory = "/tmp/x",
            Pools = [new PoolOptions { Name = "p", Labels = ["kindling"], Vcpus = 1, MemoryMib = 256 }],
            Tenants = [new TenantOptions { Name = "t", Forge = new TenantForgeOptions { Kind = "local" } }],
            Web = new WebOptions { AdminToken = "short", Users = [new WebUserOptions { Name = "ada", PasswordHash = "plain-password", Role = "root" }] },
        };
        string[] failures = [.. new KindlingOptionsValidator().Validate(null, o).Failures!];
        Assert.Contains(failures, f => f.StartsWith("Kindling:Web:AdminToken:", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Kindling:Web:Users:0:PasswordHash:", StringComparison.Ordinal) && f.Contains("hash-password", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Kindling:Web:Users:0:Role:", StringComparison.Ordinal));
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public void WebCredentials_NoAdminConfigured_GeneratesPrivateTokenOnce()
    {
        string dir = Directory.CreateTempSubdirectory("kindling-token-").FullName;
        try
        {
            var o = Options.Create(new KindlingOptions { StateDirectory = dir });
            var first = new WebCredentials(o, NullLogger<WebCredentials>.Instance);
            var second = new WebCredentials(o, NullLogger<WebCredentials>.Instance);
            string token = File.ReadAllText(first.GeneratedTokenPath!).Trim();
            Assert.Equal(WebAuth.AdminRole, second.RoleForToken(token));
            Assert.Null(second.RoleForToken(token + "x"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.GeneratedTokenPath!));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
