using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Kindling.Vmm.Config;

/// <summary>Parsing of the config file and API bodies: unknown fields and wrong types are errors naming the field.</summary>
public static class VmConfigJson
{
    /// <summary>Strict options: unknown members are refused, as Firecracker's serde(deny_unknown_fields) does.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions(VmConfigJsonContext.Default);

    /// <summary>
    /// The strict options over <paramref name="resolvers"/> (source-generated metadata), falling back to reflection
    /// for any other type.
    /// </summary>
    internal static JsonSerializerOptions CreateOptions(params IJsonTypeInfoResolver[] resolvers) => new()
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectRequiredConstructorParameters = true,
        RespectNullableAnnotations = true,
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        TypeInfoResolver = JsonTypeInfoResolver.Combine([.. resolvers, new DefaultJsonTypeInfoResolver()]),
    };

    /// <summary>Parses <paramref name="json"/> as <typeparamref name="T"/>, or throws <see cref="VmConfigException"/>.</summary>
    public static T Parse<T>(string json, string what) => Parse<T>(json, what, Options);

    /// <summary>As <see cref="Parse{T}(string, string)"/> with other options of the same rules (the API's).</summary>
    internal static T Parse<T>(string json, string what, JsonSerializerOptions options)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, options)
                ?? throw new VmConfigException($"{what}: expected a JSON object, got null");
        }
        catch (JsonException e)
        {
            string where = string.IsNullOrEmpty(e.Path) ? "" : $" at {e.Path}";
            throw new VmConfigException($"{what}: invalid JSON{where}: {FirstSentence(e.Message)}", e);
        }
    }

    /// <summary>Reads and parses a config file and validates it.</summary>
    public static VmConfig LoadFile(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmConfigException($"cannot read config file {path}: {e.Message}", e);
        }

        VmConfig config = Parse<VmConfig>(json, $"config file {path}");
        VmConfigValidator.Validate(config);
        return config;
    }

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    private static string FirstSentence(string message)
    {
        int cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
