using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Net.Http.Headers;

namespace Kindling.Runner.Web;

/// <summary>The stylesheet and script, embedded in the assembly and served with a content-hash URL (cached for a year).</summary>
public static class StaticAssets
{
    private const string ResourcePrefix = "Kindling.Web.";
    private const int VersionHexChars = 12;
    private static readonly TimeSpan CacheFor = TimeSpan.FromDays(365);

    private static readonly (byte[] Bytes, string Version) Css = Load("site.css");
    private static readonly (byte[] Bytes, string Version) Js = Load("site.js");

    public static string CssUrl => "/static/site.css?v=" + Css.Version;
    public static string JsUrl => "/static/site.js?v=" + Js.Version;

    public static void MapStaticAssets(this IEndpointRouteBuilder app)
    {
        app.MapGet("/static/site.css", (HttpContext ctx) => Serve(ctx, Css.Bytes, "text/css; charset=utf-8")).AllowAnonymous();
        app.MapGet("/static/site.js", (HttpContext ctx) => Serve(ctx, Js.Bytes, "text/javascript; charset=utf-8")).AllowAnonymous();
    }

    private static IResult Serve(HttpContext ctx, byte[] bytes, string type)
    {
        ctx.Response.Headers.CacheControl = new CacheControlHeaderValue { Public = true, MaxAge = CacheFor }.ToString();
        return Results.Bytes(bytes, type);
    }

    private static (byte[], string) Load(string name)
    {
        using Stream s = Assembly.GetExecutingAssembly().GetManifestResourceStream(ResourcePrefix + name)
                         ?? throw new InvalidOperationException($"embedded resource {ResourcePrefix}{name} is missing from the build");
        using var m = new MemoryStream();
        s.CopyTo(m);
        byte[] bytes = m.ToArray();
        return (bytes, Convert.ToHexStringLower(SHA256.HashData(bytes))[..VersionHexChars]);
    }
}
