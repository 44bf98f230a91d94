using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Kindling.Vmm.Config;

namespace Kindling.Vmm.Mmds;

/// <summary>
/// The metadata store's JSON rules, in one place for the API, <c>--metadata</c> and the store itself: an object key
/// appears once, every string is valid Unicode (no lone surrogate), and a tree's size is the byte count of its data
/// as compact JSON with only the escapes JSON requires (as Firecracker's serde_json counts it), not .NET's escaping
/// of <c>&lt; &gt; &amp; ' +</c> and non-ASCII.
/// </summary>
public static class MmdsJson
{
    /// <summary>Deepest nesting accepted (System.Text.Json's default).</summary>
    public const int MaxDepth = 64;

    private static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = MaxDepth, AllowDuplicateProperties = false };

    // The first pass lets duplicates through so that Check can name the key and where it is.
    private static readonly JsonDocumentOptions CheckOptions = new() { MaxDepth = MaxDepth };

    /// <summary>Parses <paramref name="json"/>; throws <see cref="MmdsException"/> naming the problem and where it is.</summary>
    public static JsonNode? Parse(string json, string what)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(json, CheckOptions);
            Check(document.RootElement, "$", what);
            return JsonNode.Parse(json, documentOptions: DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new MmdsException($"{what}: invalid JSON: {FirstSentence(e.Message)}", e);
        }
    }

    /// <summary>
    /// The size of <paramref name="node"/> as compact JSON with minimal escaping (UTF-8 bytes). Throws
    /// <see cref="MmdsException"/> for a tree no JSON text can hold (a lone surrogate, a key twice).
    /// </summary>
    public static long Size(JsonNode? node, string what)
    {
        try
        {
            return SizeOf(node, "$", what);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException)
        {
            // A tree parsed elsewhere may fail only when read (an unescaped lone surrogate, a duplicate key).
            throw new MmdsException($"{what}: the data cannot be stored: {e.Message}", e);
        }
    }

    private static void Check(JsonElement element, string path, string what)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var keys = new HashSet<string>(StringComparer.Ordinal);
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    string key = ReadString(() => property.Name, $"{path} (a key)", what);
                    if (!keys.Add(key))
                    {
                        throw new MmdsException($"{what}: the key \"{key}\" appears twice in {path}; each key may appear once");
                    }

                    Check(property.Value, $"{path}.{key}", what);
                }

                break;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    Check(item, $"{path}[{index++}]", what);
                }

                break;
            case JsonValueKind.String:
                ReadString(element.GetString, path, what);
                break;
        }
    }

    private static string ReadString(Func<string?> read, string path, string what)
    {
        string text;
        try
        {
            text = read() ?? "";
        }
        catch (InvalidOperationException e)
        {
            throw new MmdsException($"{what}: the string at {path} is not valid Unicode ({e.Message}); lone surrogates such as \\ud800 cannot be stored", e);
        }

        if (Utf16Text.IndexOfLoneSurrogate(text) >= 0)
        {
            throw new MmdsException($"{what}: the string at {path} is not valid Unicode: it has a lone surrogate, which cannot be stored");
        }

        return text;
    }

    private static long SizeOf(JsonNode? node, string path, string what)
    {
        switch (node)
        {
            case null:
                return 4; // null
            case JsonObject obj:
                {
                    long size = 2 + Math.Max(0, obj.Count - 1);
                    var keys = new HashSet<string>(StringComparer.Ordinal);
                    foreach ((string key, JsonNode? child) in obj)
                    {
                        if (!keys.Add(key))
                        {
                            throw new MmdsException($"{what}: the key \"{key}\" appears twice in {path}; each key may appear once");
                        }

                        size += StringSize(key, path, what) + 1 + SizeOf(child, $"{path}.{key}", what);
                    }

                    return size;
                }

            case JsonArray array:
                {
                    long size = 2 + Math.Max(0, array.Count - 1);
                    for (int i = 0; i < array.Count; i++)
                    {
                        size += SizeOf(array[i], $"{path}[{i}]", what);
                    }

                    return size;
                }

            default:
                JsonValue value = node.AsValue();
                return value.GetValueKind() == JsonValueKind.String
                    ? StringSize(value.GetValue<string>(), path, what)
                    : Encoding.UTF8.GetByteCount(value.ToJsonString());
        }
    }

    /// <summary>Quotes, UTF-8 bytes, and the escapes JSON requires: <c>\" \\</c> and control characters.</summary>
    private static long StringSize(string text, string path, string what)
    {
        if (Utf16Text.IndexOfLoneSurrogate(text) >= 0)
        {
            throw new MmdsException($"{what}: the string at {path} is not valid Unicode: it has a lone surrogate, which cannot be stored");
        }

        long size = 2;
        foreach (char c in text)
        {
            size += c switch
            {
                '"' or '\\' or '\b' or '\f' or '\n' or '\r' or '\t' => 2,
                < ' ' => 6, // \u00XX
                < '\x80' => 1,
                < '\u0800' => 2,
                _ when char.IsSurrogate(c) => 2, // half of a 4-byte sequence
                _ => 3,
            };
        }

        return size;
    }

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
