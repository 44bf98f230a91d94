using System.Text.RegularExpressions;

namespace Kindling.Runner.Replay.Workflows;

/// <summary>
/// The shapes GitHub accepts for a step's <c>uses:</c>: <c>./path</c> (an action in the workspace),
/// <c>docker://image</c>, or <c>{owner}/{repo}[/path]@ref</c> where the ref is a branch, a tag or a full commit SHA.
/// </summary>
public static partial class UsesReference
{
    /// <summary>Why GitHub refuses <paramref name="uses"/>, or null when it is well formed.</summary>
    public static string? Problem(string uses)
    {
        if (uses.StartsWith("./", StringComparison.Ordinal) || uses.StartsWith("docker://", StringComparison.Ordinal))
        {
            return null;
        }

        int at = uses.LastIndexOf('@');
        string[] path = (at < 0 ? uses : uses[..at]).Split('/');
        if (at < 0 || at == uses.Length - 1 || path.Length < 2 || path.Any(p => p.Length == 0))
        {
            return "expected {owner}/{repo}[/path]@ref (a branch, a tag or a commit SHA), ./path for an action in the repository, or docker://image";
        }

        string @ref = uses[(at + 1)..];
        return ShortSha().IsMatch(@ref)
            ? $"the ref {@ref} is a shortened commit SHA, which GitHub does not resolve; use the full 40-character SHA"
            : null;
    }

    /// <summary>7 to 39 hex digits: what GitHub takes for an abbreviated SHA (it refuses those).</summary>
    [GeneratedRegex("^[0-9a-f]{7,39}$")]
    private static partial Regex ShortSha();
}
