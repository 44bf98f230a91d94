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

    /// <summary>The fields that carry base64url text (a step's name, the agent's error, a step's command files).</summary>
    private static readonly HashSet<string> TextFields = new(StringComparer.Ordinal) { "name", "message", "output", "env", "path", "summary", "state" };

    private static readonly UTF8Encoding StrictUtf8 = new(false, throwOnInvalidBytes: true);

    /// <summary>
    /// <paramref name="line"/> (a control line) with secrets masked in what it says: a text field's decoded text is
    /// masked and encoded again, so a step named after a secret reads <c>***</c> where masking the encoded form would
    /// break the encoding (the masker also masks a secret's base64); any other field, and a text field that does not
    /// decode or whose decoded text shows no secret but whose encoded form does, is masked as it stands.
    /// </summary>
    public static string Masked(string line, SecretMasker masker)
    {
        if (TryParse(line) is not { } c)
        {
            return masker.Apply(line);
        }

        var s = new StringBuilder(Prefix).Append(c.Kind);
        foreach ((string key, string raw) in c.Fields)
        {
            string value = masker.Apply(raw);
            if (TextFields.Contains(key) && DecodeText(raw) is { } text && masker.Apply(text) is var masked && masked != text)
            {
                value = EncodeText(masked);
            }

            s.Append(' ').Append(key).Append('=').Append(value);
        }

        return s.Append(']').ToString();
    }

    private static string? DecodeText(string raw)
    {
        try
        {
            return StrictUtf8.GetString(Base64Url.DecodeFromChars(raw));
        }
        catch (FormatException)
        {
            return null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}
