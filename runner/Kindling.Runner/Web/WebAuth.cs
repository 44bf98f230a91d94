using System.Security.Claims;
using Kindling.Runner.Configuration;
using Microsoft.AspNetCore.Identity;

namespace Kindling.Runner.Web;

/// <summary>The admin page's roles, schemes and policies, and the password hash format.</summary>
public static class WebAuth
{
    public const string AdminRole = WebCredentialRules.AdminRole;
    public const string ReadOnlyRole = WebCredentialRules.ReadOnlyRole;

    /// <summary>The default scheme: a bearer token when the request carries one, else the login cookie.</summary>
    public const string Scheme = "kindling";
    public const string CookieScheme = "kindling-cookie";
    public const string TokenScheme = "kindling-token";

    /// <summary>Any signed-in user (admin or read-only): every page and GET.</summary>
    public const string ViewerPolicy = "viewer";
    /// <summary>Admins only: every action (POST).</summary>
    public const string AdminPolicy = "admin";

    public const string CookieName = "kindling.auth";
    public const string AntiforgeryCookieName = "kindling.csrf";
    public const string AntiforgeryFieldName = "__csrf";
    public const string AntiforgeryHeaderName = "X-CSRF-Token";

    public const int MinTokenLength = WebCredentialRules.MinTokenLength;

    public static readonly string[] Roles = [AdminRole, ReadOnlyRole];

    private static readonly PasswordHasher<WebUserHash> Hasher = new();

    public static string HashPassword(string password) => Hasher.HashPassword(WebUserHash.Instance, password);

    public static bool VerifyPassword(string hash, string password) =>
        IsPasswordHash(hash) && Hasher.VerifyHashedPassword(WebUserHash.Instance, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>True when <paramref name="hash"/> looks like a V3 Identity hash (<see cref="WebCredentialRules.IsPasswordHash"/>).</summary>
    public static bool IsPasswordHash(string? hash) => WebCredentialRules.IsPasswordHash(hash);

    public static ClaimsPrincipal Principal(string name, string role, string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], scheme, ClaimTypes.Name, ClaimTypes.Role));

    public static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(AdminRole);

    /// <summary>The user type PasswordHasher is generic over; it does not look at it.</summary>
    private sealed class WebUserHash
    {
        public static readonly WebUserHash Instance = new();
    }
}
