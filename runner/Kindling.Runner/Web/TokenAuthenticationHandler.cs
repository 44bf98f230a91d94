using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary><c>Authorization: Bearer TOKEN</c> with the admin, the read-only or a tenant's submit token.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, WebCredentials credentials, TenantTokens tenants)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string BearerPrefix = "Bearer ";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        string header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        string token = header[BearerPrefix.Length..].Trim();
        if (credentials.RoleForToken(token) is { } role)
        {
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(WebAuth.Principal(role + " token", role, WebAuth.TokenScheme), WebAuth.TokenScheme)));
        }

        return Task.FromResult(tenants.TenantFor(token) is { } tenant
            ? AuthenticateResult.Success(new AuthenticationTicket(SubmitAuth.Principal(tenant), WebAuth.TokenScheme))
            : AuthenticateResult.Fail("the bearer token is not the admin, the read-only or a tenant's submit token"));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"kindling\"";
        return Task.CompletedTask;
    }
}
