using System.Globalization;
using static Kindling.Runner.Web.Html;

namespace Kindling.Runner.Web.Pages;

/// <summary>Formatting shared by the pages: times, durations, sizes, meters, badges.</summary>
public static class Fmt
{
    private const double Minute = 60, Hour = 3600;
    private const long KibBytes = 1024, MibBytes = KibBytes * 1024, GibBytes = MibBytes * 1024;
    private const double HighUse = 0.75, FullUse = 0.95;

    /// <summary>A UTC time the browser shows in local time (site.js); readable without script too.</summary>
    public static Html Time(DateTimeOffset t) =>
        H($"<time datetime=\"{t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture)}\">{t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC</time>");

    public static string Duration(double? seconds) => seconds switch
    {
        null => "—",
        < 1 => $"{seconds * 1000:0} ms",
        < Minute => $"{seconds:0.#} s",
        < Hour => $"{Math.Floor(seconds.Value / Minute):0} m {seconds % Minute:00} s",
        _ => $"{Math.Floor(seconds.Value / Hour):0} h {Math.Floor(seconds.Value % Hour / Minute):00} m",
    };

    public static string Duration(TimeSpan t) => Duration(t.TotalSeconds);

    public static string Bytes(long? bytes) => bytes switch
    {
        null => "—",
        >= GibBytes => $"{bytes / (double)GibBytes:0.0} GiB",
        >= MibBytes => $"{bytes / (double)MibBytes:0.0} MiB",
        >= KibBytes => $"{bytes / (double)KibBytes:0} KiB",
        _ => $"{bytes} B",
    };

    public static string Mib(int mib) => mib >= 1024 ? $"{mib / 1024.0:0.#} GiB" : $"{mib} MiB";

    public static Html Meter(double used, double total)
    {
        double f = total <= 0 ? 0 : Math.Clamp(used / total, 0, 1);
        string cls = f >= FullUse ? "meter full" : f >= HighUse ? "meter high" : "meter";
        return H($"<div class=\"{cls}\" role=\"meter\" aria-valuemin=\"0\" aria-valuemax=\"{total}\" aria-valuenow=\"{used}\"><span style=\"width:{(f * 100).ToString("0.#", CultureInfo.InvariantCulture)}%\"></span></div>");
    }

    /// <summary>The state badge; a cleaned job shows its result with a small "cleaned".</summary>
    public static Html State(string state, string result, string? id = null) =>
        H($"<span class=\"badge s-{result}\"{Attr("id", id)} data-state=\"{result}\">{result.Replace('_', ' ')}</span>{When(state == "cleaned" && result != "cleaned", Raw("<span class=\"tag\">cleaned</span>"))}");

    public static Html Attr(string name, string? value) => value is null ? Html.Empty : H($" {Raw(name)}=\"{value}\"");

    public static string Num(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    public static string Step(int n) => (n + 1).ToString(CultureInfo.InvariantCulture);
}
