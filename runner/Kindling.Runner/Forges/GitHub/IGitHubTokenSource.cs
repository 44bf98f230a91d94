namespace Kindling.Runner.Forges.GitHub;

/// <summary>Supplies the bearer token for a tenant's API requests.</summary>
public interface IGitHubTokenSource
{
    ValueTask<string> GetTokenAsync(CancellationToken ct);

    /// <summary>Forget a cached token (after a 401), so the next call fetches a fresh one.</summary>
    void Invalidate();
}

/// <summary>A personal access token (classic or fine-grained).</summary>
public sealed class PatTokenSource(string token) : IGitHubTokenSource
{
    public ValueTask<string> GetTokenAsync(CancellationToken ct) => ValueTask.FromResult(token);

    public void Invalidate()
    {
    }
}
