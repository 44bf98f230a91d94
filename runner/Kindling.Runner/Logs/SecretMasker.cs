using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Kindling.Runner.Logs;

/// <summary>
/// Replaces every secret in a line with <c>***</c>. Each secret is looked for as it is, line by line when it has
/// several lines, and in the encodings a job most often prints a secret in: base64 (at each of the three byte
/// alignments a value can have inside a longer base64 stream, keeping only the characters the secret alone
/// decides), URL percent-encoding and JSON string escaping. All occurrences are found in the original line first
/// and every overlapping or adjacent run is masked whole, so two secrets that overlap never leave a piece of
/// either visible. Values shorter than <see cref="MinLength"/> are not masked (masking "a" would destroy every
/// log); encoded forms shorter than <see cref="MinEncodedLength"/> neither.
/// </summary>
public sealed class SecretMasker
{
    public const string Mask = "***";
    public const int MinLength = 3;
    public const int MinEncodedLength = 8;

    private string[] _values;

    public SecretMasker(IEnumerable<string> secrets)
    {
        (_values, LongestValue) = Build(secrets, []);
    }

    /// <summary>
    /// Masks <paramref name="value"/> too from now on (a step's <c>::add-mask::</c>); lines already written stay as
    /// they are. Not for <see cref="None"/>, which is shared.
    /// </summary>
    public void Add(string value)
    {
        if (ReferenceEquals(this, None))
        {
            throw new InvalidOperationException("SecretMasker.None is shared: give the job a masker of its own");
        }

        (_values, LongestValue) = Build([value], _values);
    }

    private static (string[] Values, int Longest) Build(IEnumerable<string> secrets, IEnumerable<string> existing)
    {
        HashSet<string> values = new(existing, StringComparer.Ordinal);
        foreach (string secret in secrets)
        {
            foreach (string part in secret.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Append(secret.Trim()))
            {
                if (part.Length < MinLength)
                {
                    continue;
                }

                values.Add(part);
                foreach (string encoded in Encodings(part).Where(e => e.Length >= MinEncodedLength && e != part))
                {
                    values.Add(encoded);
                }
            }
        }

        string[] ordered = [.. values.OrderByDescending(v => v.Length).ThenBy(v => v, StringComparer.Ordinal)];
        return (ordered, ordered.Length == 0 ? 0 : ordered[0].Length);
    }

    public static SecretMasker None { get; } = new([]);

    /// <summary>The longest string masked (a line reader must hold this much past a cut to mask across it).</summary>
    public int LongestValue { get; private set; }

    public string Apply(string line) => Apply(line, line.Length);

    /// <summary>
    /// Masks <paramref name="line"/> and keeps its first <paramref name="keep"/> characters; an occurrence that
    /// crosses the cut is masked whole (nothing of it is kept).
    /// </summary>
    public string Apply(string line, int keep)
    {
        keep = Math.Clamp(keep, 0, line.Length);
        List<(int Start, int End)>? hits = null;
        foreach (string v in _values)
        {
            for (int i = line.IndexOf(v, StringComparison.Ordinal); i >= 0; i = line.IndexOf(v, i + 1, StringComparison.Ordinal))
            {
                (hits ??= []).Add((i, i + v.Length));
            }
        }

        if (hits is null)
        {
            return keep == line.Length ? line : line[..keep];
        }

        hits.Sort();
        var sb = new StringBuilder(keep);
        int pos = 0;
        int h = 0;
        while (h < hits.Count && hits[h].Start < keep)
        {
            int start = hits[h].Start, end = hits[h].End;
            for (h++; h < hits.Count && hits[h].Start <= end; h++)
            {
                end = Math.Max(end, hits[h].End);
            }

            sb.Append(line, pos, Math.Max(0, start - pos)).Append(Mask);
            pos = Math.Max(pos, end);
        }

        if (pos < keep)
        {
            sb.Append(line, pos, keep - pos);
        }

        return sb.ToString();
    }

    /// <summary>The encoded forms of one value that are looked for too.</summary>
    public static IEnumerable<string> Encodings(string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        for (int offset = 0; offset < 3; offset++)
        {
            yield return Base64Inner(bytes, offset);
        }

        yield return Uri.EscapeDataString(value);
        yield return JsonEncodedText.Encode(value, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value; // quotes, backslashes and control characters escaped, as jq writes them
    }

    /// <summary>
    /// The part of the base64 text of a stream that holds <paramref name="secret"/> at <paramref name="offset"/>
    /// (mod 3) that depends on the secret's bytes only: characters shared with the bytes before or after it are dropped.
    /// </summary>
    private static string Base64Inner(byte[] secret, int offset)
    {
        var padded = new byte[offset + secret.Length];
        secret.CopyTo(padded, offset);
        string text = Convert.ToBase64String(padded).TrimEnd('=');
        int skip = offset switch { 0 => 0, 1 => 2, _ => 3 };
        int whole = padded.Length / 3 * 4;
        int end = whole + (padded.Length % 3) switch { 0 => 0, 1 => 1, _ => 2 };
        return end > skip ? text[skip..end] : "";
    }
}
