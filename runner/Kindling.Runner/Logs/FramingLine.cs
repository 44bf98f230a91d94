using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Kindling.Runner.Logs;

/// <summary>A control line of the guest agent (images/guest/PROTOCOL.md): <c>##kindling[kind key=value ...]</c>.</summary>
public sealed record FramingLine(string Kind, IReadOnlyDictionary<string, string> Fields)
{
    public const string Prefix = "##kindling[";

    /// <summary>step-end's optional field saying what ended a step before it finished by itself: <see cref="EndedCancelled"/> or <see cref="EndedTimedOut"/>.</summary>
    public const string StepEndedField = "ended";

    /// <summary>The job's cancellation ended the step (the runner's <c>kindling/cancel</c>).</summary>
    public const string EndedCancelled = "cancelled";

    /// <summary>The step's own timeout_seconds ended it.</summary>
    public const string EndedTimedOut = "timed-out";

    /// <summary>Parses a control line; null for ordinary output (or a malformed control line, kept as output).</summary>
    public static FramingLine? TryParse(string line)
    {
        if (!line.StartsWith(Prefix, StringComparison.Ordinal) || !line.EndsWith(']'))
        {
            return null;
        }

        string[] parts = line[Prefix.Length..^1].Split(' ');
        if (parts.Length == 0 || parts[0].Length == 0 || parts[0].Contains('=', StringComparison.Ordinal))
        {
            return null;
        }

        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string p in parts.Skip(1))
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return null;
            }

            fields[p[..eq]] = p[(eq + 1)..];
        }

        return new FramingLine(parts[0], fields);
    }

    public int? Int(string key) =>
        Fields.TryGetValue(key, out string? v) && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) ? i : null;

    public double? Double(string key) =>
        Fields.TryGetValue(key, out string? v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : null;

    /// <summary>A base64url (no padding) UTF-8 field, decoded; the raw value when it does not decode.</summary>
    public string? Text(string key)
    {
        if (!Fields.TryGetValue(key, out string? v))
        {
            return null;
        }

        try
        {
            return Encoding.UTF8.GetString(Base64Url.DecodeFromChars(v));
        }
        catch (FormatException)
        {
            return v;
        }
    }

    public static string EncodeText(string s) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(s));
}
