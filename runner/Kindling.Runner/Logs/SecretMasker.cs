namespace Kindling.Runner.Logs;

/// <summary>
/// Replaces every secret value in a line with <c>***</c>, longest first (so a secret containing another is masked
/// whole). Values shorter than <see cref="MinLength"/> are not masked: masking "a" would destroy every log.
/// </summary>
public sealed class SecretMasker
{
    public const string Mask = "***";
    public const int MinLength = 3;

    private readonly string[] _values;

    public SecretMasker(IEnumerable<string> secrets) =>
        _values = [.. secrets
            .SelectMany(s => s.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Append(s.Trim()))
            .Where(s => s.Length >= MinLength)
            .Distinct(StringComparer.Ordinal)
            .OrderByDescending(s => s.Length)];

    public static SecretMasker None { get; } = new([]);

    public string Apply(string line)
    {
        foreach (string v in _values)
        {
            if (line.Contains(v, StringComparison.Ordinal))
            {
                line = line.Replace(v, Mask, StringComparison.Ordinal);
            }
        }

        return line;
    }
}
