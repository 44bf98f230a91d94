using System.Security.Cryptography;
using System.Text.RegularExpressions;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>hashFiles()</c> as GitHub's runner computes it: the files of the workspace matching the patterns (globs
/// relative to the workspace, <c>**</c> across directories, dot files included, a leading <c>!</c> excludes,
/// later patterns win, a matched directory brings its files), visited depth first with each directory's entries
/// in ordinal order; the SHA-256 of the concatenated SHA-256 digests of their contents, in hex; "" when nothing
/// matches. Replay evaluates it once, before the job runs, over the files the workspace starts with.
/// </summary>
public sealed class WorkspaceHash
{
    private readonly string _root;
    private readonly Lazy<IReadOnlyList<string>> _files;

    /// <param name="root">Where the files' contents are read from.</param>
    /// <param name="files">The workspace's files, relative to <paramref name="root"/> with '/' separators (any order).</param>
    public WorkspaceHash(string root, Func<IEnumerable<string>> files)
    {
        _root = root;
        _files = new(() => [.. files().Distinct(StringComparer.Ordinal).Order(DepthFirst.Instance)]);
    }

    /// <summary>Every file under <paramref name="root"/> except those inside a <c>.git</c> folder.</summary>
    public static IEnumerable<string> DirectoryFiles(string root) =>
        Directory.EnumerateFiles(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0, IgnoreInaccessible = true })
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(rel => !rel.Split('/').Contains(".git", StringComparer.Ordinal));

    /// <summary>The hash of the files matching <paramref name="patterns"/> (each may hold several lines).</summary>
    public string Compute(IReadOnlyList<string> patterns)
    {
        List<Glob> globs = [.. patterns.SelectMany(p => p.Split('\n')).Select(p => p.Trim()).Where(p => p.Length > 0 && p[0] != '#').Select(Glob.Parse)];
        if (!globs.Any(g => !g.Negate))
        {
            throw new ReplayException("hashFiles() needs at least one pattern that is not an exclusion (!)");
        }

        using var all = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        bool any = false;
        foreach (string file in _files.Value)
        {
            string[] segments = file.Split('/');
            bool included = false;
            foreach (Glob g in globs)
            {
                if (g.Matches(segments))
                {
                    included = !g.Negate;
                }
            }

            if (!included)
            {
                continue;
            }

            string path = Path.Combine(_root, file);
            if (!File.Exists(path))
            {
                continue; // listed by git but deleted from the working tree
            }

            using FileStream f = File.OpenRead(path);
            all.AppendData(SHA256.HashData(f));
            any = true;
        }

        return any ? Convert.ToHexStringLower(all.GetHashAndReset()) : "";
    }

    /// <summary>One pattern: its segments (with <c>**</c> kept whole) and whether it excludes.</summary>
    private sealed class Glob
    {
        private readonly object[] _segments; // "**" or a Regex for one path segment

        private Glob(bool negate, object[] segments)
        {
            Negate = negate;
            _segments = segments;
        }

        public bool Negate { get; }

        public static Glob Parse(string pattern)
        {
            string p = pattern;
            bool negate = false;
            while (p.StartsWith('!'))
            {
                negate = !negate;
                p = p[1..];
            }

            if (p.StartsWith('/'))
            {
                throw new ReplayException($"hashFiles('{pattern}'): replay takes patterns relative to the workspace, not absolute paths");
            }

            while (p.StartsWith("./", StringComparison.Ordinal))
            {
                p = p[2..];
            }

            string[] parts = p.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Contains(".."))
            {
                throw new ReplayException($"hashFiles('{pattern}'): '..' leaves the workspace");
            }

            // A matched directory brings every file below it (the runner's implicit descendants).
            return new Glob(negate, [.. parts.Append("**").Select(s => s == "**" ? (object)"**" : Segment(s))]);
        }

        public bool Matches(string[] path) => Match(0, path, 0);

        private bool Match(int si, string[] path, int pi)
        {
            if (si == _segments.Length)
            {
                return pi == path.Length;
            }

            if (_segments[si] is string)
            {
                for (int skip = pi; skip <= path.Length; skip++)
                {
                    if (Match(si + 1, path, skip))
                    {
                        return true;
                    }
                }

                return false;
            }

            return pi < path.Length && ((Regex)_segments[si]).IsMatch(path[pi]) && Match(si + 1, path, pi + 1);
        }

        /// <summary>One segment's wildcards: <c>*</c>, <c>?</c> and <c>[...]</c> classes (<c>[!...]</c> negated).</summary>
        private static Regex Segment(string s)
        {
            var re = new System.Text.StringBuilder("^");
            for (int i = 0; i < s.Length; i++)
            {
                char c = s[i];
                int close = c == '[' ? s.IndexOf(']', i + 2) : -1;
                if (c == '*')
                {
                    re.Append(".*");
                }
                else if (c == '?')
                {
                    re.Append('.');
                }
                else if (close > 0)
                {
                    string body = s[(i + 1)..close];
                    re.Append('[').Append(body[0] == '!' ? "^" + Regex.Escape(body[1..]) : Regex.Escape(body)).Append(']');
                    i = close;
                }
                else
                {
                    re.Append(Regex.Escape(c.ToString()));
                }
            }

            return new Regex(re.Append('$').ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline);
        }
    }

    /// <summary>Segment by segment, ordinal: the order of a depth-first walk that lists each directory sorted.</summary>
    private sealed class DepthFirst : IComparer<string>
    {
        public static readonly DepthFirst Instance = new();

        public int Compare(string? x, string? y)
        {
            string[] a = x!.Split('/'), b = y!.Split('/');
            for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
            {
                int c = string.CompareOrdinal(a[i], b[i]);
                if (c != 0)
                {
                    return c;
                }
            }

            return a.Length.CompareTo(b.Length);
        }
    }
}
