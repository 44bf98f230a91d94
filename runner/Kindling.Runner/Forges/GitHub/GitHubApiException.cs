using System.Net;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>A GitHub API call that failed after retries, with the status and GitHub's message.</summary>
public sealed class GitHubApiException(string method, string path, HttpStatusCode status, string body)
    : Exception($"GitHub {method} /{path} answered {(int)status} {status}: {Trim(body)}")
{
    public HttpStatusCode Status { get; } = status;

    private static string Trim(string body) => body.Length > 300 ? body[..300] + "…" : body;
}
