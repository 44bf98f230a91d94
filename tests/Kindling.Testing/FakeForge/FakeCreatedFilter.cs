using System.Globalization;

namespace Kindling.Testing.FakeForge;

/// <summary>
/// GitHub's date qualifier as the runs list's <c>created</c> parameter takes it: <c>&gt;=D</c>, <c>&gt;D</c>,
/// <c>&lt;=D</c>, <c>&lt;D</c>, <c>D..D</c> (either side may be <c>*</c>) or a bare day, where D is a date or an
/// ISO 8601 date-time.
/// </summary>
internal readonly record struct FakeCreatedFilter(DateTimeOffset From, DateTimeOffset To)
{
    private static readonly FakeCreatedFilter All = new(DateTimeOffset.MinValue, DateTimeOffset.MaxValue);

    /// <summary>Whether <paramref name="at"/> lies in [From, To].</summary>
    public bool Includes(DateTimeOffset at) => at >= From && at <= To;

    public static bool TryParse(string? value, out FakeCreatedFilter filter)
    {
        filter = All;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        (string op, string rest) = value switch
        {
            _ when value.StartsWith(">=", StringComparison.Ordinal) => (">=", value[2..]),
            _ when value.StartsWith("<=", StringComparison.Ordinal) => ("<=", value[2..]),
            _ when value.StartsWith('>') => (">", value[1..]),
            _ when value.StartsWith('<') => ("<", value[1..]),
            _ => ("", value),
        };
        if (op.Length == 0 && rest.Split("..") is [string a, string b])
        {
            bool okA = a == "*" || Date(a, out _);
            bool okB = b == "*" || Date(b, out _);
            Date(a, out DateTimeOffset from);
            Date(b, out DateTimeOffset to);
            filter = new FakeCreatedFilter(a == "*" ? DateTimeOffset.MinValue : from, b == "*" ? DateTimeOffset.MaxValue : to);
            return okA && okB;
        }

        if (!Date(rest, out DateTimeOffset d))
        {
            return false;
        }

        TimeSpan tick = TimeSpan.FromTicks(1);
        filter = op switch
        {
            ">=" => new FakeCreatedFilter(d, DateTimeOffset.MaxValue),
            ">" => new FakeCreatedFilter(d + tick, DateTimeOffset.MaxValue),
            "<=" => new FakeCreatedFilter(DateTimeOffset.MinValue, d),
            "<" => new FakeCreatedFilter(DateTimeOffset.MinValue, d - tick),
            _ => new FakeCreatedFilter(d, d.AddDays(1) - tick), // a bare day
        };
        return true;
    }

    private static bool Date(string s, out DateTimeOffset d) =>
        DateTimeOffset.TryParseExact(s, ["yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss'Z'"], CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out d);
}
