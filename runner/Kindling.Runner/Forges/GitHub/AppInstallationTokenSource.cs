using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// A GitHub App installation: signs a JWT, exchanges it at <c>POST /app/installations/{id}/access_tokens</c>,
/// caches the token and fetches a new one <see cref="RefreshMargin"/> before it expires (they last an hour).
/// </summary>
public sealed class AppInstallationTokenSource(
    HttpClient http, Uri baseUrl, long appId, long installationId, RSA key, TimeProvider time) : IGitHubTokenSource, IDisposable
{
    public static readonly TimeSpan RefreshMargin = TimeSpan.FromMinutes(5);

    private readonly SemaphoreSlim _lock = new(1, 1);
    private InstallationToken? _current;

    /// <summary>Loads the App's PEM private key (PKCS#1 or PKCS#8, as GitHub hands it out).</summary>
    public static RSA LoadKey(string pemPath)
    {
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(File.ReadAllText(pemPath));
        }
        catch (ArgumentException e)
        {
            rsa.Dispose();
            throw new InvalidOperationException($"{pemPath}: not a PEM RSA private key ({e.Message}); download the App's key from its settings page", e);
        }

        return rsa;
    }

    public async ValueTask<string> GetTokenAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            if (_current is { } t && t.ExpiresAt - RefreshMargin > time.GetUtcNow())
            {
                return t.Token;
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, $"app/installations/{installationId}/access_tokens"));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", GitHubAppJwt.Create(appId, key, time.GetUtcNow()));
            GitHubClient.AddStandardHeaders(request);
            using HttpResponseMessage response = await http.SendAsync(request, ct);
            if (!response.IsSuccessStatusCode)
            {
                throw new GitHubApiException("POST", $"app/installations/{installationId}/access_tokens", response.StatusCode,
                    await response.Content.ReadAsStringAsync(ct));
            }

            _current = await response.Content.ReadFromJsonAsync(GitHubJson.Default.InstallationToken, ct)
                ?? throw new InvalidOperationException("GitHub returned an empty installation token");
            return _current.Token;
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Invalidate() => _current = null;

    public void Dispose()
    {
        _lock.Dispose();
        key.Dispose();
    }
}
