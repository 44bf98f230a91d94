using System.Text.RegularExpressions;

namespace Kindling.Runner.Forges.GitHub;

/// <summary>
/// GitHub's pagination header (RFC 8288 <c>Link</c>): <c>&lt;URL&gt;; rel="next", &lt;URL&gt;; rel="last"</c>. Only
/// the parts GitHub writes are understood: a URL in angle brackets and a quoted (or bare) <c>rel</c>, which may name
/// several relations separated by spaces.
/// </summary>
public static partial class LinkHeader
{
    /// <summary>The URL of the link whose <c>rel</c> includes <paramref name="relation"/>, or null.</summary>
    public static string? Find(IEnumerable<string>? values, string relation)
    {
        if (values is null)
        {
            return null;
        }

        foreach (string value in values)
        {
            foreach (Match m in Entry().Matches(value))
            {
                string rel = m.Groups["qrel"].Success ? m.Groups["qrel"].Value : m.Groups["rel"].Value;
                if (rel.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(relation, StringComparer.OrdinalIgnoreCase))
                {
                    return m.Groups["url"].Value;
                }
            }
        }

        return null;
    }

    [GeneratedRegex("""<(?<url>[^>]*)>\s*(?:;\s*[^;,=]+=(?:"[^"]*"|[^;,]*)\s*)*?;\s*rel\s*=\s*(?:"(?<qrel>[^"]*)"|(?<rel>[^;,\s]+))""", RegexOptions.CultureInvariant)]
    private static partial Regex Entry();
}
