using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>The page shell: header with navigation and the signed-in user, banners, main content.</summary>
public static class Layout
{
    private static readonly (string Href, string Label)[] Nav =
        [("/", "Overview"), ("/jobs", "Jobs"), ("/vms", "VMs"), ("/tenants", "Tenants"), ("/images", "Images")];

    public static Html Page(PageContext ctx, string title, Html content, int? refreshSeconds = null) => H($"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        {When(refreshSeconds is not null, H($"<meta http-equiv=\"refresh\" content=\"{refreshSeconds}\">"))}
        <title>{title} · Kindling</title>
        <link rel="stylesheet" href="{StaticAssets.CssUrl}">
        <script src="{StaticAssets.JsUrl}" defer></script>
        </head>
        <body>
        <header class="top">
          <a class="brand" href="/"><span class="flame" aria-hidden="true"></span>Kindling</a>
          <nav aria-label="main">{Nav.Select(n => H($"<a href=\"{n.Href}\"{Fmt.Attr("aria-current", Current(ctx.Path, n.Href) ? "page" : null)}>{n.Label}</a>"))}</nav>
          <div class="who"><span class="name">{ctx.User}</span><span class="badge">{ctx.Role}</span>
            <form method="post" action="/logout" class="inline">{Csrf(ctx)}<button class="link" type="submit">Sign out</button></form></div>
        </header>
        {When(ctx.Host.Drained, H($"<div class=\"banner warn\" role=\"status\"><b>Host drained</b> ({ctx.Host.DrainedBy}): no new jobs start until it is undrained.</div>"))}
        {(ctx.Flash is { } f ? H($"<div class=\"banner {(f.Ok ? "ok" : "bad")}\" role=\"status\" id=\"flash\">{f.Message}</div>") : Empty)}
        <main>
        {content}
        </main>
        <footer>Kindling runner · {Environment.MachineName}</footer>
        </body>
        </html>
        """);

    /// <summary>The page shell for the signed-out login page.</summary>
    public static Html Bare(string title, Html content) => H($"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="color-scheme" content="light dark">
        <title>{title} · Kindling</title>
        <link rel="stylesheet" href="{StaticAssets.CssUrl}">
        </head>
        <body>
        <main>
        {content}
        </main>
        </body>
        </html>
        """);

    public static Html Csrf(PageContext ctx) => Csrf(ctx.Csrf);

    public static Html Csrf(string token) => H($"<input type=\"hidden\" name=\"{WebAuth.AntiforgeryFieldName}\" value=\"{token}\">");

    /// <summary>A POST button (admins only: read-only users do not see actions they may not take).</summary>
    /// <param name="liveOnly">Removed by the page's script when the job it is on finishes.</param>
    /// <param name="rerunIfItFails">Hidden until the job it is on ends failed, cancelled or timed out (the script shows it).</param>
    public static Html Action(PageContext ctx, string action, string label, string cls = "", string? confirm = null, bool liveOnly = false, bool rerunIfItFails = false) =>
        !ctx.IsAdmin ? Empty : H($"<form method=\"post\" action=\"{action}\" class=\"inline\"{Fmt.Attr("data-confirm", confirm)}{When(liveOnly, Raw(" data-live-only"))}{When(rerunIfItFails, Raw(" data-if-it-fails hidden"))}>{Csrf(ctx)}<button type=\"submit\" class=\"{cls}\">{label}</button></form>");

    public static Html Table(IEnumerable<string> headers, IEnumerable<Html> rows, string empty, IEnumerable<string>? numeric = null)
    {
        HashSet<string> num = [.. numeric ?? []];
        Html[] body = [.. rows];
        return H($"""
            <div class="table-wrap"><table>
            <thead><tr>{headers.Select(h => H($"<th{When(num.Contains(h), Raw(" class=\"num\""))}>{h}</th>"))}</tr></thead>
            <tbody>{(body.Length == 0 ? H($"<tr><td colspan=\"{headers.Count()}\" class=\"empty\">{empty}</td></tr>") : Join(body))}</tbody>
            </table></div>
            """);
    }

    private static bool Current(string path, string href) =>
        href == "/" ? path == "/" : path == href || path.StartsWith(href + "/", StringComparison.Ordinal);
}
