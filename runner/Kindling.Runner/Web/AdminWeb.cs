using System.Text.Json;
using Kindling.Runner.Configuration;
using Kindling.Runner.Telemetry;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace Kindling.Runner.Web;

/// <summary>
/// The admin page and API: services (<see cref="AddKindlingWeb"/>) and the request pipeline
/// (<see cref="UseKindlingWeb"/>), shared by <c>kindling daemon</c>, <c>kindling demo</c> and the tests.
/// </summary>
public static class AdminWeb
{
    public const string MetricsPath = "/metrics";
    private const string KeysFolder = "web-keys";
    private const string ApplicationName = "kindling";

    private static readonly string[] ApiPrefixes = ["/api", MetricsPath];

    /// <summary>Content-Security-Policy: only our own script and stylesheet; no framing; forms post only here.</summary>
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " +
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

    public static IServiceCollection AddKindlingWeb(this IServiceCollection services)
    {
        services.AddRouting();
        services.AddSingleton<WebCredentials>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<FleetQueries>();
        services.AddSingleton<FleetActions>();
        services.AddSingleton<LogTail>();
        services.AddSingleton<FleetMetrics>();
        services.AddSingleton<TenantTokens>();
        services.AddSingleton<Scheduling.JobSubmissions>();
        services.ConfigureHttpJsonOptions(o => o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower);

        // Keys for the login cookie, anti-forgery tokens and flash messages: kept in the state directory so a
        // restart does not sign everyone out.
        services.AddDataProtection().SetApplicationName(ApplicationName);
        services.AddOptions<KeyManagementOptions>().Configure<IOptions<KindlingOptions>>((k, o) =>
            k.XmlRepository = new Microsoft.AspNetCore.DataProtection.Repositories.FileSystemXmlRepository(
                new DirectoryInfo(Path.Combine(o.Value.StateDirectory, KeysFolder)), Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance));

        services.AddAuthentication(WebAuth.Scheme)
            .AddPolicyScheme(WebAuth.Scheme, "bearer token or login cookie", o => o.ForwardDefaultSelector = ctx =>
                ctx.Request.Headers.Authorization.ToString().StartsWith(TokenAuthenticationHandler.BearerPrefix, StringComparison.OrdinalIgnoreCase)
                    ? WebAuth.TokenScheme
                    : WebAuth.CookieScheme)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(WebAuth.TokenScheme, null)
            .AddCookie(WebAuth.CookieScheme, o =>
            {
                o.Cookie.Name = WebAuth.CookieName;
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Strict;
                o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.SlidingExpiration = true;
                o.LoginPath = "/login";
                o.Events.OnRedirectToLogin = ctx => ApiOrRedirect(ctx, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = ctx => Status(ctx.HttpContext, StatusCodes.Status403Forbidden);
            });
        services.AddOptions<CookieAuthenticationOptions>(WebAuth.CookieScheme)
            .Configure<IOptions<KindlingOptions>>((c, o) => c.ExpireTimeSpan = o.Value.Web.SessionLifetime);

        services.AddAuthorizationBuilder()
            .AddPolicy(WebAuth.ViewerPolicy, p => p.RequireAuthenticatedUser().RequireRole(WebAuth.Roles))
            .AddPolicy(WebAuth.AdminPolicy, p => p.RequireAuthenticatedUser().RequireRole(WebAuth.AdminRole))
            .AddSubmitPolicies()
            // Nothing is anonymous unless it says so (/healthz, /login, the stylesheet).
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().RequireRole(WebAuth.Roles).Build());

        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = WebAuth.AntiforgeryCookieName;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.FormFieldName = WebAuth.AntiforgeryFieldName;
            o.HeaderName = WebAuth.AntiforgeryHeaderName;
        });

        services.AddOpenTelemetry().WithMetrics(m =>
        {
            m.AddMeter(KindlingMetrics.MeterName, FleetMetrics.MeterName)
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0);
            // Only this container's instruments: a meter listener sees every Meter of that name in the process, so
            // two runners in one process (the tests' web hosts) would otherwise export each other's gauges.
            ((IDeferredMeterProviderBuilder)m).Configure((sp, b) =>
            {
                System.Diagnostics.Metrics.IMeterFactory own = sp.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
                b.AddView(instrument => instrument.Meter.Scope is null || ReferenceEquals(instrument.Meter.Scope, own) ? null : MetricStreamConfiguration.Drop);
            });
        });
        return services;
    }

    /// <summary>Security headers, authentication, authorization and every endpoint.</summary>
    public static void UseKindlingWeb(this IApplicationBuilder app)
    {
        _ = app.ApplicationServices.GetRequiredService<FleetMetrics>(); // its gauges exist from the start
        _ = app.ApplicationServices.GetRequiredService<WebCredentials>(); // the generated token exists before anyone asks
        app.Use(async (ctx, next) =>
        {
            IHeaderDictionary h = ctx.Response.Headers;
            h.ContentSecurityPolicy = ContentSecurityPolicy;
            h.XContentTypeOptions = "nosniff";
            h.XFrameOptions = "DENY";
            h["Referrer-Policy"] = "same-origin";
            await next(ctx);
        });
        app.UseRouting();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseEndpoints(e =>
        {
            e.MapRunnerEndpoints();
            e.MapStaticAssets();
            e.MapAdminPages();
            e.MapAdminApi();
            e.MapSubmitApi();
            e.MapPrometheusScrapingEndpoint(MetricsPath).RequireAuthorization(WebAuth.ViewerPolicy);
        });
    }

    private static Task ApiOrRedirect(RedirectContext<CookieAuthenticationOptions> ctx, int status)
    {
        PathString path = ctx.Request.Path;
        bool api = ApiPrefixes.Any(p => path.StartsWithSegments(p)) || !HttpMethods.IsGet(ctx.Request.Method) ||
                   ctx.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal);
        if (api)
        {
            return Status(ctx.HttpContext, status);
        }

        ctx.Response.Redirect(ctx.RedirectUri);
        return Task.CompletedTask;
    }

    private static Task Status(HttpContext ctx, int status)
    {
        ctx.Response.StatusCode = status;
        return Task.CompletedTask;
    }
}
