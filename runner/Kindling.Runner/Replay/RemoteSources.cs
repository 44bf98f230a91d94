namespace Kindling.Runner.Replay;

/// <summary>
/// Where a replay finds another repository offline (a remote action, a remote reusable workflow, a checkout of
/// another repository): a <c>--local-repository owner/repo@ref=PATH</c> first (act's flag: that directory stands for
/// the repository at that ref), else the action cache's <c>DIR/owner/repo/ref</c> (act's offline layout). Without a
/// ref (a checkout's default branch) it is the ref <c>HEAD</c> (tests/corpus/action-cache.sh lays a mirror's default
/// branch out there), else the one ref held for the repository.
/// </summary>
public sealed record RemoteSources
{
    /// <summary>The ref that stands for a repository's default branch in the action cache.</summary>
    public const string DefaultBranchRef = "HEAD";

    private const string GitHubUrl = "https://github.com/";

    /// <summary>--action-cache DIR (null: none).</summary>
    public string? ActionCache { get; init; }

    /// <summary>--local-repository: <c>owner/repo@ref</c> (owner/repo in lower case) → the directory (absolute).</summary>
    public IReadOnlyDictionary<string, string> LocalRepositories { get; init; } = new Dictionary<string, string>();

    public bool IsEmpty => ActionCache is null && LocalRepositories.Count == 0;

    /// <summary>
    /// Parses <c>--local-repository</c> values: <c>owner/repo@ref=PATH</c> or <c>https://github.com/owner/repo@ref=PATH</c>
    /// (as act accepts them), PATH relative to <paramref name="currentDirectory"/>, which must be a directory.
    /// </summary>
    public static IReadOnlyDictionary<string, string> ParseLocalRepositories(IEnumerable<string> values, string currentDirectory)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int eq = value.IndexOf('=', StringComparison.Ordinal);
            string key = eq < 0 ? value : value[..eq].Trim();
            string path = eq < 0 ? "" : value[(eq + 1)..].Trim();
            if (eq < 0 || path.Length == 0)
            {
                throw new ReplayException($"--local-repository {value}: expected owner/repo@ref=PATH (a directory holding the repository at that ref)");
            }

            if (Key(key) is not { } normal)
            {
                throw new ReplayException($"--local-repository {value}: '{key}' is not owner/repo@ref (or https://github.com/owner/repo@ref), e.g. actions/checkout@v4=../checkout");
            }

            string full = Path.GetFullPath(path, currentDirectory);
            if (!Directory.Exists(full))
            {
                throw new ReplayException($"--local-repository {value}: {full} is not a directory (it stands for {key}: the repository's files at that ref)");
            }

            if (result.TryGetValue(normal, out string? before) && before != full)
            {
                throw new ReplayException($"--local-repository {value}: {key} is given twice ({before} and {full}); give it once");
            }

            result[normal] = full;
        }

        return result;
    }

    /// <summary><c>owner/repo@ref</c> (owner/repo lower case) of a key, or null when it is not that shape.</summary>
    private static string? Key(string key)
    {
        if (key.StartsWith(GitHubUrl, StringComparison.OrdinalIgnoreCase))
        {
            key = key[GitHubUrl.Length..];
        }

        int at = key.LastIndexOf('@');
        if (at <= 0)
        {
            return null;
        }

        string[] parts = key[..at].Split('/');
        string @ref = key[(at + 1)..];
        return parts.Length == 2 && ValidName(parts[0]) && ValidName(parts[1]) && ValidRef(@ref) ? $"{parts[0].ToLowerInvariant()}/{parts[1].ToLowerInvariant()}@{@ref}" : null;
    }

    /// <summary>An owner or repository name: GitHub's characters, not "." or "..".</summary>
    public static bool ValidName(string name) =>
        name.Length > 0 && name is not ("." or "..") && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>A ref usable as a directory under the cache: no empty, "." or ".." part, no leading '-', no control character.</summary>
    public static bool ValidRef(string @ref) =>
        @ref.Length > 0 && !@ref.StartsWith('-') && !@ref.Any(c => char.IsControl(c) || c == '\\')
        && @ref.Split('/').All(p => p.Length > 0 && p is not ("." or ".."));

    /// <summary>
    /// The directory holding <paramref name="repository"/> (owner/repo) at <paramref name="ref"/>, or null; with
    /// <paramref name="expected"/> the directory looked for (the local repository's, else the cache's; null: neither is given).
    /// </summary>
    public string? Find(string repository, string @ref, out string? expected)
    {
        if (LocalRepositories.TryGetValue($"{repository.ToLowerInvariant()}@{@ref}", out string? local))
        {
            expected = local;
            return local;
        }

        expected = ActionCache is { } cache ? Path.Combine(cache, repository, @ref) : null;
        return expected is not null && Directory.Exists(expected) ? expected : null;
    }

    /// <summary>The refs held for <paramref name="repository"/>: its --local-repository keys and the cache's directories.</summary>
    public IReadOnlyList<string> Refs(string repository)
    {
        string prefix = repository.ToLowerInvariant() + "@";
        IEnumerable<string> local = LocalRepositories.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).Select(k => k[prefix.Length..]);
        string? dir = ActionCache is { } cache ? Path.Combine(cache, repository) : null;
        IEnumerable<string> cached = dir is not null && Directory.Exists(dir)
            ? Directory.EnumerateDirectories(dir).Select(Path.GetFileName).OfType<string>().Where(r => !r.EndsWith(".partial", StringComparison.Ordinal))
            : [];
        return [.. local.Concat(cached).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)];
    }

    /// <summary>
    /// The ref that stands for <paramref name="repository"/>'s default branch offline: <see cref="DefaultBranchRef"/>
    /// where held, else the only ref held; null (with the refs held) when neither.
    /// </summary>
    public string? DefaultRef(string repository, out IReadOnlyList<string> held)
    {
        held = Refs(repository);
        return held.Contains(DefaultBranchRef, StringComparer.Ordinal) ? DefaultBranchRef : held.Count == 1 ? held[0] : null;
    }

    /// <summary>How to give replay a repository it lacks, in words.</summary>
    public static string HowToGive(string repository, string @ref) =>
        $"pass --action-cache DIR holding DIR/{repository}/{@ref}, or --local-repository {repository}@{@ref}=PATH";
}
