using Kindling.Runner.Configuration;

namespace Kindling.Runner.Scheduling;

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
            string key = $"Kindling:Tenants:{tenantIndex}:Secrets:{name}";
            if (src.Value is { } v)
            {
                values[name] = v;
            }
            else if (src.Env is { } env)
            {
                values[name] = Environment.GetEnvironmentVariable(env)
                    ?? throw new SecretUnavailableException($"{key}: environment variable {env} is not set");
            }
            else if (src.File is { } file)
            {
                try
                {
                    values[name] = File.ReadAllText(file).TrimEnd('\n', '\r');
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new SecretUnavailableException($"{key}: cannot read {file}: {e.Message}", e);
                }
            }
        }

        return values;
    }
}

public sealed class SecretUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
