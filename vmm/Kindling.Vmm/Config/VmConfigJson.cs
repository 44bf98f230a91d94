using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Kindling.Vmm.Config;

/// <summary>
/// Parsing of the config file and API bodies: unknown fields, wrong types, duplicate fields and invalid UTF-8 are
/// errors naming the field (or the byte).
/// </summary>
public static class VmConfigJson
{
    /// <summary>Strict options: unknown members are refused, as Firecracker's serde(deny_unknown_fields) does.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions(VmmContractJsonContext.Default);

    /// <summary>
    /// The strict options over <paramref name="resolvers"/>: source-generated metadata only, no reflection fallback
    /// (the VMM publishes as NativeAOT, where there is none). A type missing from every resolver is a programming
    /// error that <see cref="TypeInfo{T}"/> names.
    /// </summary>
    internal static JsonSerializerOptions CreateOptions(params IJsonTypeInfoResolver[] resolvers) => new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(resolvers),
    };

    /// <summary>Parses <paramref name="json"/> as <typeparamref name="T"/>, or throws <see cref="VmConfigException"/>.</summary>
    public static T Parse<T>(string json, string what) => Parse<T>(json, what, Options);

    /// <summary>As <see cref="Parse{T}(string, string)"/> with other options of the same rules (the API's).</summary>
    internal static T Parse<T>(string json, string what, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize(json, TypeInfo<T>(options))
                ?? throw new VmConfigException($"{what}: expected a JSON object, got null");
        }
        catch (JsonException e)
        {
            string where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            throw new VmConfigException($"{what}: invalid JSON{where}: {FirstSentence(e.Message)}", e);
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException or FormatException)
        {
            throw new VmConfigException($"{what}: invalid JSON: {FirstSentence(e.Message)}", e);
        }
    }

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Reads a text file that must be UTF-8: invalid bytes are refused (naming the offset), never replaced.</summary>
    public static string ReadUtf8File(string path, string what)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmConfigException($"cannot read {what} {path}: {e.Message}", e);
        }

        try
        {
            ReadOnlySpan<byte> text = bytes.AsSpan().StartsWith(Utf8Bom) ? bytes.AsSpan(Utf8Bom.Length) : bytes;
            return StrictUtf8.GetString(text);
        }
        catch (DecoderFallbackException e)
        {
            int offset = e.Index + (bytes.AsSpan().StartsWith(Utf8Bom) ? Utf8Bom.Length : 0);
            throw new VmConfigException($"{what} {path} is not valid UTF-8 (byte offset {offset}); save it as UTF-8", e);
        }
    }

    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>Reads and parses a config file and validates it.</summary>
    public static VmConfig LoadFile(string path)
    {
        string json = ReadUtf8File(path, "config file");
        VmConfig config = Parse<VmConfig>(json, $"config file {path}");
        VmConfigValidator.Validate(config);
        return config;
    }

    public static string Serialize<T>(T value) => Serialize(value, Options);

    /// <summary>As <see cref="Serialize{T}(T)"/> with other options of the same rules (the API's).</summary>
    internal static string Serialize<T>(T value, JsonSerializerOptions options) => JsonSerializer.Serialize(value, TypeInfo<T>(options));

    /// <summary>
    /// The source-generated metadata of <typeparamref name="T"/> in <paramref name="options"/>: the AOT-safe overloads
    /// of <see cref="JsonSerializer"/> take it instead of looking the type up by reflection.
    /// </summary>
    internal static JsonTypeInfo<T> TypeInfo<T>(JsonSerializerOptions options) =>
        options.TryGetTypeInfo(typeof(T), out JsonTypeInfo? info)
            ? (JsonTypeInfo<T>)info
            : throw new NotSupportedException($"{typeof(T).Name} has no source-generated JSON metadata; add [JsonSerializable(typeof({typeof(T).Name}))] to VmmContractJsonContext (vmm/Kindling.Vmm.Contract)");

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
