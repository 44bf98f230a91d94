using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary><c>Authorization: Bearer TOKEN</c> with the admin or the read-only token.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, WebCredentials credentials)
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

        string? role = credentials.RoleForToken(header[BearerPrefix.Length..].Trim());
        return Task.FromResult(role is null
            ? AuthenticateResult.Fail("the bearer token is not the admin or the read-only token")
            : AuthenticateResult.Success(new AuthenticationTicket(WebAuth.Principal(role + " token", role, WebAuth.TokenScheme), WebAuth.TokenScheme)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer realm=\"kindling\"";
        return Task.CompletedTask;
    }
}
