using System.Net;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>A GitHub API call that failed after retries, with the status and GitHub's message.</summary>
public sealed class GitHubApiException(string method, string path, HttpStatusCode status, string body)
    : Exception($"GitHub {method} /{path} answered {(int)status} {status}: {Trim(body)}")
{
    public HttpStatusCode Status { get; } = status;

    /// <summary>
    /// Worth trying again later: a server error, a rate limit still in force after the client's waits, or 409 on
    /// runner registration (a retried POST whose first attempt GitHub did carry out; the next attempt uses a new name).
    /// </summary>
    public bool IsTransient => (int)Status >= 500 || Status is HttpStatusCode.TooManyRequests or HttpStatusCode.Conflict ||
        (Status == HttpStatusCode.Forbidden && Message.Contains("rate limit", StringComparison.OrdinalIgnoreCase));

    private static string Trim(string body) => body.Length > 300 ? body[..300] + "…" : body;
}
