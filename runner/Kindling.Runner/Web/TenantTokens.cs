using System.Security.Cryptography;
using System.Text;
using Kindling.Runner.Configuration;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Web;

/// <summary>
/// The tenants' submit tokens (<c>Kindling:Tenants:N:SubmitToken</c> or <c>SubmitTokenEnv</c>): a bearer token that
/// submits jobs for its own tenant and follows them, and sees nothing else. Compared in constant time; never logged.
/// </summary>
public sealed class TenantTokens
{
    private readonly (string Tenant, byte[] Token)[] _tokens;

    public TenantTokens(IOptions<KindlingOptions> options) =>
        _tokens = [.. options.Value.Tenants
            .Select(t => (t.Name, Token: t.SubmitToken is { Length: > 0 } v ? v
                : t.SubmitTokenEnv is { } env && Environment.GetEnvironmentVariable(env) is { Length: >= WebAuth.MinTokenLength } e ? e : null))
            .Where(t => t.Token is not null)
            .Select(t => (t.Name, Encoding.UTF8.GetBytes(t.Token!)))];

    /// <summary>The tenant whose token this is, or null.</summary>
    public string? TenantFor(string token)
    {
        byte[] presented = Encoding.UTF8.GetBytes(token);
        string? found = null;
        foreach ((string tenant, byte[] t) in _tokens)
        {
            if (CryptographicOperations.FixedTimeEquals(presented, t))
            {
                found ??= tenant; // every token is compared: the time says nothing about which matched
            }
        }

        return found;
    }
}
