using System.Globalization;
using System.Net.Mail;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kindling.Testing.OpenApi;

/// <summary>The value checks of an OpenAPI 3.0 schema: <c>format</c>, numeric bounds, lengths, <c>pattern</c>, item counts.</summary>
internal static class OpenApiLimits
{
    private static readonly string[] DateTimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'",
    ];

    public static void Check(JsonElement value, JsonElement schema, string path, List<string> errors)
    {
        if (schema.TryGetProperty("format", out JsonElement f) && f.GetString() is { } format && !FormatHolds(value, format))
        {
            errors.Add($"{path}: {value.GetRawText()} is not a valid {format}");
        }

        if (value.ValueKind == JsonValueKind.Number)
        {
            double v = value.GetDouble();
            bool exclusiveMin = schema.TryGetProperty("exclusiveMinimum", out JsonElement xmin) && xmin.ValueKind == JsonValueKind.True;
            bool exclusiveMax = schema.TryGetProperty("exclusiveMaximum", out JsonElement xmax) && xmax.ValueKind == JsonValueKind.True;
            if (Number(schema, "minimum") is { } min && (exclusiveMin ? v <= min : v < min))
            {
                errors.Add($"{path}: {value.GetRawText()} is below the minimum {min.ToString(CultureInfo.InvariantCulture)}{(exclusiveMin ? " (exclusive)" : "")}");
            }

            if (Number(schema, "maximum") is { } max && (exclusiveMax ? v >= max : v > max))
            {
                errors.Add($"{path}: {value.GetRawText()} is above the maximum {max.ToString(CultureInfo.InvariantCulture)}{(exclusiveMax ? " (exclusive)" : "")}");
            }

            // OpenAPI 3.1 / JSON Schema: the exclusive bounds are numbers.
            if (xmin.ValueKind == JsonValueKind.Number && v <= xmin.GetDouble())
            {
                errors.Add($"{path}: {value.GetRawText()} is not above the exclusive minimum {xmin.GetRawText()}");
            }

            if (xmax.ValueKind == JsonValueKind.Number && v >= xmax.GetDouble())
            {
                errors.Add($"{path}: {value.GetRawText()} is not below the exclusive maximum {xmax.GetRawText()}");
            }
        }
        else if (value.ValueKind == JsonValueKind.String)
        {
            int length = new StringInfo(value.GetString()!).LengthInTextElements;
            if (Number(schema, "minLength") is { } minLength && length < minLength)
            {
                errors.Add($"{path}: is {length} characters, shorter than minLength {minLength}");
            }

            if (Number(schema, "maxLength") is { } maxLength && length > maxLength)
            {
                errors.Add($"{path}: is {length} characters, longer than maxLength {maxLength}");
            }

            if (schema.TryGetProperty("pattern", out JsonElement p) && p.GetString() is { } pattern && !Matches(value.GetString()!, pattern))
            {
                errors.Add($"{path}: '{value.GetString()}' does not match the pattern {pattern}");
            }
        }
        else if (value.ValueKind == JsonValueKind.Array)
        {
            int count = value.GetArrayLength();
            if (Number(schema, "minItems") is { } minItems && count < minItems)
            {
                errors.Add($"{path}: has {count} items, fewer than minItems {minItems}");
            }

            if (Number(schema, "maxItems") is { } maxItems && count > maxItems)
            {
                errors.Add($"{path}: has {count} items, more than maxItems {maxItems}");
            }
        }
    }

    private static double? Number(JsonElement schema, string name) =>
        schema.TryGetProperty(name, out JsonElement n) && n.ValueKind == JsonValueKind.Number ? n.GetDouble() : null;

    private static bool FormatHolds(JsonElement value, string format) => (format, value.ValueKind) switch
    {
        ("date-time", JsonValueKind.String) => DateTimeOffset.TryParseExact(value.GetString(), DateTimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        ("date", JsonValueKind.String) => DateOnly.TryParseExact(value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        ("uri", JsonValueKind.String) => Uri.TryCreate(value.GetString(), UriKind.Absolute, out Uri? u) && u.Scheme.Length > 0,
        ("email", JsonValueKind.String) => MailAddress.TryCreate(value.GetString(), out MailAddress? m) && m.Address == value.GetString(),
        ("int32", JsonValueKind.Number) => value.TryGetInt32(out _),
        ("int64", JsonValueKind.Number) => value.TryGetInt64(out _),
        _ => true, // formats this checker does not know (uri-template, binary, …), or a type the type check reports
    };

    private static bool Matches(string s, string pattern)
    {
        try
        {
            return Regex.IsMatch(s, pattern, RegexOptions.ECMAScript, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            return Regex.IsMatch(s, pattern, RegexOptions.None, TimeSpan.FromSeconds(1)); // ECMAScript mode lacks some constructs GitHub uses
        }
    }
}
