using System.Security.Cryptography;
using System.Text;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>
/// Who may sign in: the admin token (configured, from an environment variable, or generated into
/// STATE/admin-token when no admin credential is configured at all), an optional read-only token, and users with
/// password hashes. Comparisons are constant-time; tokens and hashes are never rendered or logged.
/// </summary>
public sealed partial class WebCredentials
{
    public const string GeneratedTokenFile = "admin-token";
    private const int GeneratedTokenBytes = 32;

    private readonly WebOptions _web;
    private readonly byte[]? _admin;
    private readonly byte[]? _readOnly;

    public WebCredentials(IOptions<KindlingOptions> options, ILogger<WebCredentials> log)
    {
        KindlingOptions o = options.Value;
        _web = o.Web;
        string? admin = Resolve(_web.AdminToken, _web.AdminTokenEnv);
        if (admin is null && !_web.Users.Any(u => u.Role == WebAuth.AdminRole) && !OperatingSystem.IsWindows())
        {
            GeneratedTokenPath = Path.Combine(o.StateDirectory, GeneratedTokenFile);
            admin = LoadOrCreateToken(GeneratedTokenPath);
            LogGenerated(log, GeneratedTokenPath);
        }

        AdminToken = admin;
        _admin = admin is null ? null : Encoding.UTF8.GetBytes(admin);
        string? ro = Resolve(_web.ReadOnlyToken, _web.ReadOnlyTokenEnv);
        _readOnly = ro is null ? null : Encoding.UTF8.GetBytes(ro);
    }

    /// <summary>Where the generated admin token is, when one was generated (the demo prints it).</summary>
    public string? GeneratedTokenPath { get; }

    /// <summary>The admin token, for the CLI that prints how to sign in; never rendered in a page.</summary>
    internal string? AdminToken { get; }

    /// <summary>The role a bearer token grants, or null when it is not one of ours.</summary>
    public string? RoleForToken(string token)
    {
        byte[] presented = Encoding.UTF8.GetBytes(token);
        if (_admin is not null && CryptographicOperations.FixedTimeEquals(presented, _admin))
        {
            return WebAuth.AdminRole;
        }

        return _readOnly is not null && CryptographicOperations.FixedTimeEquals(presented, _readOnly) ? WebAuth.ReadOnlyRole : null;
    }

    /// <summary>The user's role when the password matches its hash; null otherwise.</summary>
    public string? RoleForLogin(string name, string password)
    {
        WebUserOptions? user = _web.Users.FirstOrDefault(u => string.Equals(u.Name, name, StringComparison.OrdinalIgnoreCase));
        if (user is null)
        {
            _ = WebAuth.VerifyPassword(DummyHash.Value, password); // same cost for unknown names: no user enumeration by timing
            return null;
        }

        return WebAuth.VerifyPassword(user.PasswordHash, password) ? user.Role : null;
    }

    private static readonly Lazy<string> DummyHash = new(() => WebAuth.HashPassword(Guid.NewGuid().ToString()));

    private static string? Resolve(string? value, string? env) =>
        value is { Length: > 0 } ? value : env is not null && Environment.GetEnvironmentVariable(env) is { Length: > 0 } v ? v : null;

    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")] // the runner is Linux-only (KVM)
    private static string LoadOrCreateToken(string path)
    {
        if (File.Exists(path) && File.ReadAllText(path).Trim() is { Length: >= WebAuth.MinTokenLength } existing)
        {
            return existing;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        string token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(GeneratedTokenBytes));
        string temp = path + ".tmp";
        using (var f = new FileStream(temp, new FileStreamOptions
               {
                   Mode = FileMode.Create, Access = FileAccess.Write, UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
               }))
        {
            f.Write(Encoding.UTF8.GetBytes(token + "\n"));
        }

        File.Move(temp, path, overwrite: true);
        return token;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "admin page: no admin token or admin user configured; the admin token is in {Path}")]
    private static partial void LogGenerated(ILogger log, string path);
}
