namespace Kindling.Runner.Configuration;

/// <summary>
/// What the admin page's credentials in the configuration must look like (<c>Web:AdminToken</c>,
/// <c>Web:ReadOnlyToken</c>, <c>Web:Users</c>): the roles, the shortest token, and the password hash format. The
/// validator checks the configuration against these at start; Web's <c>WebAuth</c> signs users in by the same rules.
/// </summary>
public static class WebCredentialRules
{
    public const string AdminRole = "admin";
    public const string ReadOnlyRole = "read-only";

    public const int MinTokenLength = 16;

    /// <summary>ASP.NET Core Identity's V3 hash format marker (PBKDF2 with HMAC-SHA512 in .NET 10).</summary>
    private const byte IdentityV3Marker = 0x01;
    private const int MinHashBytes = 1 + 4 + 4 + 4 + 16 + 32;
    private const int MaxHashChars = 1024;

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
}
