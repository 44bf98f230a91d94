using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Kindling.Testing.FakeForge;

/// <summary>
/// GitHub's pagination: <c>per_page</c> (default 30, at most 100) and <c>page</c> (from 1), and a <c>Link</c> header
/// as GitHub writes it: <c>rel="prev"</c>, <c>rel="next"</c>, <c>rel="last"</c>, <c>rel="first"</c> in that order, each
/// URL the request's own query with <c>page</c> set, on the numeric path (<c>/repositories/ID/…</c>,
/// <c>/organizations/ID/…</c>) rather than the one asked for.
/// </summary>
internal static class FakePaging
{
    public const int DefaultPerPage = 30;
    public const int MaxPerPage = 100;

    /// <summary>The page asked for; writes the Link header when there is more than one page.</summary>
    public static List<T> Page<T>(HttpContext ctx, IReadOnlyList<T> all, string linkPath)
    {
        int perPage = Math.Clamp(Int(ctx, "per_page") ?? DefaultPerPage, 1, MaxPerPage);
        int page = Math.Max(1, Int(ctx, "page") ?? 1);
        int last = Math.Max(1, (all.Count + perPage - 1) / perPage);
        if (last > 1 || page > 1)
        {
            List<string> links = [];
            if (page > 1) links.Add(Link(ctx, linkPath, Math.Min(page - 1, last), "prev"));
            if (page < last) links.Add(Link(ctx, linkPath, page + 1, "next"));
            if (page < last) links.Add(Link(ctx, linkPath, last, "last"));
            if (page > 1) links.Add(Link(ctx, linkPath, 1, "first"));
            ctx.Response.Headers["Link"] = string.Join(", ", links);
        }

        return [.. all.Skip((page - 1) * perPage).Take(perPage)];
    }

    private static string Link(HttpContext ctx, string linkPath, int page, string rel)
    {
        IEnumerable<string> query = ctx.Request.QueryString.Value is { Length: > 1 } q
            ? q[1..].Split('&', StringSplitOptions.RemoveEmptyEntries).Where(p => !p.StartsWith("page=", StringComparison.Ordinal))
            : [];
        return $"<{linkPath}?{string.Join('&', query.Append("page=" + page.ToString(CultureInfo.InvariantCulture)))}>; rel=\"{rel}\"";
    }

    private static int? Int(HttpContext ctx, string name) =>
        int.TryParse(ctx.Request.Query[name], NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : null;
}
