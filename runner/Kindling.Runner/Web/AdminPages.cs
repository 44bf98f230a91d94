using System.Globalization;
using System.Net;
using System.Text.Json;
using Kindling.Runner.Jobs;
using Kindling.Runner.Web.Pages;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Kindling.Runner.Web;

/// <summary>The server-rendered admin pages, their form actions (admin role, anti-forgery checked) and sign-in.</summary>
public static class AdminPages
{
    public const string FlashCookie = "kindling.flash";
    private const string FlashPurpose = "Kindling.Web.Flash";
    private const string HtmlType = "text/html; charset=utf-8";

    public static void MapAdminPages(this IEndpointRouteBuilder app)
    {
        app.MapGet("/login", (HttpContext ctx, IAntiforgery af, string? returnUrl) =>
            Page(LoginPage.Render(af.GetAndStoreTokens(ctx).RequestToken!, LocalUrl(returnUrl), null))).AllowAnonymous();
        app.MapPost("/login", LoginAsync).AllowAnonymous().AddEndpointFilter<AntiforgeryFilter>();
        app.MapPost("/logout", async (HttpContext ctx) =>
        {
            await ctx.SignOutAsync(WebAuth.CookieScheme);
            return new SeeOther("/login");
        }).AddEndpointFilter<AntiforgeryFilter>();

        app.MapGet("/", (HttpContext ctx, FleetQueries fleet) => Page(OverviewPage.Render(Context(ctx), fleet.Overview())));
        app.MapGet("/jobs", (HttpContext ctx, FleetQueries fleet, JobStore store, string? tenant, string? state, string? repo, long? before) =>
        {
            if (!TryState(state, out JobState? s))
            {
                return Results.BadRequest($"unknown state '{state}'; use one of {string.Join(", ", Enum.GetValues<JobState>().Select(JobLifecycle.Name))}");
            }

            var q = new JobSearch(Empty(tenant), s, Empty(repo), before, JobsPage.PageSize + 1);
            IReadOnlyList<JobView> page = fleet.Jobs(q);
            return Page(JobsPage.Render(Context(ctx), [.. page.Take(JobsPage.PageSize)], page.Count > JobsPage.PageSize, q, store.TenantsWithJobs()));
        });
        app.MapGet("/jobs/{id:long}", (HttpContext ctx, FleetQueries fleet, long id) =>
            fleet.Job(id) is { } d ? Page(JobPage.Render(Context(ctx), d)) : Results.NotFound($"there is no job {id}"));
        app.MapGet("/jobs/{id:long}/panels", (FleetQueries fleet, long id) =>
            fleet.Job(id) is { } d ? Page(JobPage.Panels(d)) : Results.NotFound());
        app.MapGet("/jobs/{id:long}/log", DownloadLog);
        app.MapGet("/jobs/{id:long}/log/stream", StreamLog);
        app.MapGet("/vms", (HttpContext ctx, FleetQueries fleet) => Page(FleetPages.Vms(Context(ctx), fleet.Vms())));
        app.MapGet("/tenants", (HttpContext ctx, FleetQueries fleet) => Page(FleetPages.Tenants(Context(ctx), fleet.Tenants())));
        app.MapGet("/images", (HttpContext ctx, FleetQueries fleet) => Page(FleetPages.Images(Context(ctx), fleet.Images())));

        RouteGroupBuilder actions = app.MapGroup("").RequireAuthorization(WebAuth.AdminPolicy).AddEndpointFilter<AntiforgeryFilter>();
        actions.MapPost("/jobs/{id:long}/cancel", async (HttpContext ctx, FleetActions a, long id) =>
            Done(ctx, await a.CancelAsync(id, Who(ctx)), $"/jobs/{id}"));
        actions.MapPost("/jobs/{id:long}/rerun", async (HttpContext ctx, FleetActions a, long id) =>
        {
            AdminActionResult r = await a.RerunAsync(id, Who(ctx), ctx.RequestAborted);
            return Done(ctx, r, $"/jobs/{(r.Ok ? r.JobId : id)}");
        });
        actions.MapPost("/host/drain", (HttpContext ctx, FleetActions a) => Done(ctx, a.Drain(Who(ctx)), "/"));
        actions.MapPost("/host/undrain", (HttpContext ctx, FleetActions a) => Done(ctx, a.Undrain(Who(ctx)), "/"));
        actions.MapPost("/host/reap", async (HttpContext ctx, FleetActions a) => Done(ctx, await a.ReapAsync(Who(ctx), ctx.RequestAborted), "/"));
    }

    /// <summary>The full log as a download (masked, framing lines included: it replays exactly).</summary>
    public static IResult DownloadLog(FleetQueries fleet, long id) =>
        fleet.LogPath(id) is { } path
            ? Results.File(path, "text/plain; charset=utf-8", $"kindling-job-{id.ToString(CultureInfo.InvariantCulture)}.log", enableRangeProcessing: true)
            : Results.NotFound($"job {id} has no log");

    /// <summary>The live tail; resumes after the byte offset in Last-Event-ID (or <c>?from=</c>).</summary>
    public static IResult StreamLog(HttpContext ctx, LogTail tail, JobStore store, IHostApplicationLifetime lifetime, long id, long? from)
    {
        if (store.Get(id) is null)
        {
            return Results.NotFound($"there is no job {id}");
        }

        long start = long.TryParse(ctx.Request.Headers["Last-Event-ID"], NumberStyles.None, CultureInfo.InvariantCulture, out long resume) ? resume : from ?? 0;
        var stop = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted, lifetime.ApplicationStopping);
        ctx.Response.RegisterForDispose(stop);
        ctx.Response.Headers["X-Accel-Buffering"] = "no"; // a proxy in front must not buffer the stream
        return TypedResults.ServerSentEvents(tail.StreamAsync(id, start, stop.Token));
    }

    public static string Who(HttpContext ctx) => ctx.User.Identity?.Name ?? "?";

    private static async Task<IResult> LoginAsync(HttpContext ctx, WebCredentials credentials, LoginThrottle throttle, IAntiforgery af)
    {
        IFormCollection form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        string user = form["user"].ToString().Trim();
        string password = form["password"].ToString();
        string returnUrl = LocalUrl(form["returnUrl"]) ?? "/";
        IPAddress client = ctx.Connection.RemoteIpAddress is { } ip ? (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip) : IPAddress.None;
        if (throttle.RetryAfter(client) is { } wait)
        {
            return LockedOut(ctx, af, returnUrl, wait);
        }

        string? role = password.Length == 0 ? null : user.Length == 0 ? credentials.RoleForToken(password) : credentials.RoleForLogin(user, password);
        if (role is null)
        {
            if (throttle.Failed(client) is { } lockout)
            {
                return LockedOut(ctx, af, returnUrl, lockout);
            }

            ctx.Response.StatusCode = StatusCodes.Status401Unauthorized;
            return Page(LoginPage.Render(af.GetAndStoreTokens(ctx).RequestToken!, returnUrl,
                user.Length == 0 ? "That is not the admin or read-only token." : "Wrong user name or password."));
        }

        throttle.Succeeded(client);
        string name = user.Length == 0 ? $"{role} token" : user;
        await ctx.SignInAsync(WebAuth.CookieScheme, WebAuth.Principal(name, role, WebAuth.CookieScheme));
        return new SeeOther(returnUrl);
    }

    /// <summary>429 with Retry-After and the login form saying how long to wait.</summary>
    private static IResult LockedOut(HttpContext ctx, IAntiforgery af, string returnUrl, TimeSpan wait)
    {
        int seconds = (int)Math.Ceiling(wait.TotalSeconds);
        ctx.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        ctx.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return Page(LoginPage.Render(af.GetAndStoreTokens(ctx).RequestToken!, returnUrl,
            $"Too many failed sign-ins from your address; try again in {Fmt.Duration(TimeSpan.FromSeconds(seconds))}."));
    }

    private static IResult Page(Html html) => Results.Content(html.Value, HtmlType);

    private static PageContext Context(HttpContext ctx)
    {
        var af = ctx.RequestServices.GetRequiredService<IAntiforgery>();
        string role = WebAuth.IsAdmin(ctx.User) ? WebAuth.AdminRole : WebAuth.ReadOnlyRole;
        return new PageContext(Who(ctx), role, af.GetAndStoreTokens(ctx).RequestToken!, ctx.Request.Path.Value ?? "/", TakeFlash(ctx),
            ctx.RequestServices.GetRequiredService<FleetQueries>().Host());
    }

    /// <summary>After an action: the message for the next page (protected cookie), and 303 to where to look.</summary>
    private static IResult Done(HttpContext ctx, AdminActionResult r, string to)
    {
        IDataProtector p = ctx.RequestServices.GetRequiredService<IDataProtectionProvider>().CreateProtector(FlashPurpose);
        ctx.Response.Cookies.Append(FlashCookie, p.Protect(JsonSerializer.Serialize(r)), new CookieOptions
        {
            HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/", IsEssential = true,
        });
        return new SeeOther(to);
    }

    private static AdminActionResult? TakeFlash(HttpContext ctx)
    {
        if (!ctx.Request.Cookies.TryGetValue(FlashCookie, out string? value))
        {
            return null;
        }

        ctx.Response.Cookies.Delete(FlashCookie, new CookieOptions { Path = "/" });
        try
        {
            IDataProtector p = ctx.RequestServices.GetRequiredService<IDataProtectionProvider>().CreateProtector(FlashPurpose);
            return JsonSerializer.Deserialize<AdminActionResult>(p.Unprotect(value));
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or JsonException)
        {
            return null;
        }
    }

    /// <summary>Only same-site paths ("/jobs/3"), never "//evil" or "https://evil": no open redirect after sign-in.</summary>
    public static string? LocalUrl(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : null;

    public static bool TryState(string? name, out JobState? state)
    {
        state = null;
        if (string.IsNullOrEmpty(name))
        {
            return true;
        }

        try
        {
            state = JobLifecycle.Parse(name);
            return Enum.IsDefined(state.Value) && JobLifecycle.Name(state.Value) == name;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string? Empty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>303 See Other: the browser follows a POST's answer with a GET.</summary>
    private sealed class SeeOther(string location) : IResult
    {
        public Task ExecuteAsync(HttpContext ctx)
        {
            ctx.Response.StatusCode = StatusCodes.Status303SeeOther;
            ctx.Response.Headers.Location = location;
            return Task.CompletedTask;
        }
    }
}
