using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;

namespace Kindling.Runner.Web;

/// <summary>
/// A piece of HTML that is safe to emit. Build it with <see cref="H"/>: every interpolated value is
/// HTML-encoded unless it is itself <see cref="Html"/>, so a job name or a log line can never inject markup.
/// </summary>
public readonly record struct Html(string Value)
{
    public static Html Empty => new("");

    /// <summary>Markup from an interpolated string; holes are encoded (Html values and sequences of them are not).</summary>
    public static Html H(ref HtmlHandler html) => html.ToHtml();

    /// <summary>Trusted literal markup (constants in this assembly only).</summary>
    public static Html Raw(string markup) => new(markup);

    public static Html Join(IEnumerable<Html> parts) => new(string.Concat(parts.Select(p => p.Value)));

    public static Html When(bool condition, Html html) => condition ? html : Empty;

    public override string ToString() => Value;
}

/// <summary>The interpolated string handler behind <see cref="Html.H"/>.</summary>
[InterpolatedStringHandler]
public ref struct HtmlHandler
{
    private readonly StringBuilder _sb;

    public HtmlHandler(int literalLength, int formattedCount) => _sb = new StringBuilder(literalLength + (formattedCount * 16));

    public readonly void AppendLiteral(string s) => _sb.Append(s);

    public readonly void AppendFormatted(Html html) => _sb.Append(html.Value);

    public readonly void AppendFormatted(IEnumerable<Html> parts)
    {
        foreach (Html p in parts)
        {
            _sb.Append(p.Value);
        }
    }

    public readonly void AppendFormatted(string? s) => _sb.Append(HtmlEncoder.Default.Encode(s ?? ""));

    public readonly void AppendFormatted<T>(T value) => AppendFormatted(Convert.ToString(value, CultureInfo.InvariantCulture));

    public readonly void AppendFormatted<T>(T value, string format) where T : IFormattable =>
        AppendFormatted(value.ToString(format, CultureInfo.InvariantCulture));

    internal readonly Html ToHtml() => new(_sb.ToString());
}
