using System.Security.Cryptography;

namespace Kindling.Runner.Configuration;

/// <summary>
/// Where credentials are read from: environment variables and files. The validator resolves every credential the
/// configuration names through this at start, so an unset variable or an unreadable file is a configuration error
/// listed with the others, never an exception when a service is first built. Tests substitute their own.
/// </summary>
public sealed class CredentialSources(Func<string, string?> variable, Func<string, string> readFile)
{
    public static readonly CredentialSources System = new(Environment.GetEnvironmentVariable, File.ReadAllText);

    public string? Variable(string name) => variable(name);

    public string ReadFile(string path) => readFile(path);

    /// <summary>
    /// A tenant's personal access token (inline, from an environment variable or a file), or the problem as
    /// <c>(key suffix, message)</c> with the fix.
    /// </summary>
    public (string? Token, string? Key, string? Problem) ResolvePat(CredentialOptions c)
    {
        if (c.Token is { Length: > 0 } token)
        {
            return (token, null, null);
        }

        if (c.TokenEnv is { Length: > 0 } env)
        {
            return Variable(env) is { Length: > 0 } v
                ? (v, null, null)
                : (null, "TokenEnv", $"environment variable {env} is not set; export the tenant's GitHub token there (or use Token or TokenFile)");
        }

        if (c.TokenFile is { Length: > 0 } file)
        {
            try
            {
                return ReadFile(file).Trim() is { Length: > 0 } read
                    ? (read, null, null)
                    : (null, "TokenFile", $"{file} is empty; put the tenant's GitHub token in it");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return (null, "TokenFile", $"cannot read {file}: {e.Message}");
            }
        }

        return (null, "Token", "is empty; give the tenant's GitHub token (Token, TokenEnv or TokenFile)");
    }

    /// <summary>
    /// A tenant secret's value (inline, from an environment variable, or a file without its trailing newline), or the
    /// problem as <c>(key suffix, message)</c> with the fix; all null for a secret with no source. The validator asks at start; the job runner asks again at
    /// each job start, so a rotated file needs no restart.
    /// </summary>
    public (string? Value, string? Key, string? Problem) ResolveSecret(SecretSourceOptions src)
    {
        if (src.Value is { } value)
        {
            return (value, null, null);
        }

        if (src.Env is { } env)
        {
            return Variable(env) is { } v ? (v, null, null) : (null, "Env", $"environment variable {env} is not set; export the secret's value there");
        }

        if (src.File is { } file)
        {
            try
            {
                return (ReadFile(file).TrimEnd('\n', '\r'), null, null);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                return (null, "File", $"cannot read {file} ({e.Message}); put the secret's value there");
            }
        }

        return (null, null, null); // no source: nothing to give (the validator refuses such a secret at start)
    }

    /// <summary>The problem with a GitHub App's private key file, or null when it is a readable PEM RSA key.</summary>
    public string? CheckAppKey(string path)
    {
        string pem;
        try
        {
            pem = ReadFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return $"cannot read '{path}' ({e.Message}); download the App's private key (.pem) there";
        }

        using var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return null;
        }
        catch (ArgumentException e)
        {
            return $"'{path}' is not a PEM RSA private key ({e.Message}); download the App's key from its settings page";
        }
    }
}
