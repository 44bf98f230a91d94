namespace Kindling.Vmm.Mmds;

/// <summary>A parsed HTTP/1.x request to the metadata service. Header names are case-insensitive.</summary>
public sealed record MmdsHttpRequest(string Method, string Target, IReadOnlyDictionary<string, string> Headers, byte[] Body)
{
    public string? Header(string name) => Headers.TryGetValue(name, out string? value) ? value : null;

    public static IReadOnlyDictionary<string, string> NewHeaders(params (string Name, string Value)[] headers)
    {
        var d = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach ((string name, string value) in headers)
        {
            d[name] = value;
        }

        return d;
    }
}
