using Kindling.Runner.Configuration;
using Kindling.Runner.Forges;

namespace Kindling.Runner.Jobs;

/// <summary>
/// Reads one tenant's secrets from their sources at job start (so rotation needs no restart). Only the job's
/// own tenant is ever asked for: that is the isolation boundary between tenants.
/// </summary>
public static class SecretResolver
{
    public static IReadOnlyDictionary<string, string> Resolve(TenantOptions tenant, int tenantIndex)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string name, SecretSourceOptions src) in tenant.Secrets)
        {
            (string? value, string? suffix, string? problem) = CredentialSources.System.ResolveSecret(src);
            if (problem is not null)
            {
                throw new SecretUnavailableException($"Kindling:Tenants:{tenantIndex}:Secrets:{name}:{suffix}: {problem}");
            }

            if (value is not null)
            {
                values[name] = value;
            }
        }

        return values;
    }

    /// <summary>
    /// The tenant's secrets plus those a job spec builds from them (<see cref="JobSpec.SecretRefs"/>, e.g. a replay's
    /// <c>AUTH: Bearer ${{ secrets.TOKEN }}</c>). A secret the recipe names but the tenant lacks fails the job, naming it.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Derive(IReadOnlyDictionary<string, string> tenantSecrets,
        IReadOnlyDictionary<string, IReadOnlyList<SecretPart>>? refs, string tenant, int tenantIndex)
    {
        if (refs is null || refs.Count == 0)
        {
            return tenantSecrets;
        }

        string[] missing = [.. refs.Values.SelectMany(p => p).Select(p => p.Secret).OfType<string>().Distinct().Where(n => !tenantSecrets.ContainsKey(n)).Order(StringComparer.Ordinal)];
        if (missing.Length > 0)
        {
            throw new SecretUnavailableException(
                $"the job reads secret(s) {string.Join(", ", missing)}, which tenant {tenant} does not have; add them under Kindling:Tenants:{tenantIndex}:Secrets");
        }

        var values = new Dictionary<string, string>(tenantSecrets, StringComparer.Ordinal);
        foreach ((string name, IReadOnlyList<SecretPart> parts) in refs)
        {
            values[name] = string.Concat(parts.Select(p => p.Secret is { } s ? tenantSecrets[s] : p.Text));
        }

        return values;
    }
}

public sealed class SecretUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
