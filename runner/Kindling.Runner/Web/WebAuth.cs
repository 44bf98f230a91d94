using System.Security.Claims;
using Microsoft.AspNetCore.Identity;

namespace Kindling.Runner.Web;

/// <summary>The admin page's roles, schemes and policies, and the password hash format.</summary>
public static class WebAuth
{
    public const string AdminRole = "admin";
    public const string ReadOnlyRole = "read-only";

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

    public const int MinTokenLength = 16;

    /// <summary>ASP.NET Core Identity's V3 hash format marker (PBKDF2 with HMAC-SHA512 in .NET 10).</summary>
    private const byte IdentityV3Marker = 0x01;
    private const int MinHashBytes = 1 + 4 + 4 + 4 + 16 + 32;
    private const int MaxHashChars = 1024;

    public static readonly string[] Roles = [AdminRole, ReadOnlyRole];

    private static readonly PasswordHasher<WebUserHash> Hasher = new();

    public static string HashPassword(string password) => Hasher.HashPassword(WebUserHash.Instance, password);

    public static bool VerifyPassword(string hash, string password) =>
        IsPasswordHash(hash) && Hasher.VerifyHashedPassword(WebUserHash.Instance, hash, password) != PasswordVerificationResult.Failed;

    /// <summary>True when <paramref name="hash"/> looks like a V3 Identity hash (so a plain password in the config is refused at start).</summary>
    public static bool IsPasswordHash(string? hash)
    {
        if (string.IsNullOrEmpty(hash) || hash.Length > MaxHashChars)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[hash.Length];
        return Convert.TryFromBase64String(hash, bytes, out int n) && n >= MinHashBytes && bytes[0] == IdentityV3Marker;
    }

    public static ClaimsPrincipal Principal(string name, string role, string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)], scheme, ClaimTypes.Name, ClaimTypes.Role));

    public static bool IsAdmin(ClaimsPrincipal user) => user.IsInRole(AdminRole);

    /// <summary>The user type PasswordHasher is generic over; it does not look at it.</summary>
    private sealed class WebUserHash
    {
        public static readonly WebUserHash Instance = new();
    }
}
