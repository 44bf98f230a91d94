using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Kindling.Testing.OpenApi;

/// <summary>
/// A checker of JSON values and HTTP headers against an OpenAPI 3.0 description: <c>$ref</c> (local), <c>type</c>,
/// <c>nullable</c>, <c>required</c>, <c>properties</c>, <c>additionalProperties</c>, <c>items</c>, <c>enum</c>,
/// <c>allOf</c>, <c>oneOf</c>/<c>anyOf</c> (one branch must pass), <c>format</c> (date-time, date, uri, email, int32,
/// int64), <c>minimum</c>/<c>maximum</c> (and their exclusive forms), <c>minLength</c>/<c>maxLength</c>,
/// <c>pattern</c>, <c>minItems</c>/<c>maxItems</c>; response headers as the description declares them (the
/// <c>Link</c> header's syntax too), GitHub's rate-limit headers, error bodies and request bodies.
/// </summary>
/// <remarks>
/// GitHub's schemas leave most objects open (no <c>additionalProperties: false</c>), so a fake that invents a field
/// would pass; with <see cref="RejectUndeclaredProperties"/> every property a schema does not declare is reported.
/// </remarks>
public sealed partial class OpenApiSchemaChecker(JsonElement document)
{
    private const int MaxDepth = 64;

    /// <summary>Report properties the schema does not declare even where it leaves the object open.</summary>
    public bool RejectUndeclaredProperties { get; init; }

    /// <summary>The response schema of an operation, or throws naming what is missing.</summary>
    public JsonElement ResponseSchema(string pathTemplate, string method, int status) =>
        Resolve(Response(pathTemplate, method, status)).GetProperty("content").GetProperty("application/json").GetProperty("schema");

    /// <summary>
    /// The schema of an error answer: the operation's own for that status when it declares one, else GitHub's
    /// <c>basic-error</c> (its documented body for every other error, such as a rate limit's 403 or 429).
    /// </summary>
    public JsonElement ErrorSchema(string pathTemplate, string method, int status) =>
        Operation(pathTemplate, method).GetProperty("responses").TryGetProperty(Status(status), out _)
            ? ResponseSchema(pathTemplate, method, status)
            : document.GetProperty("components").GetProperty("schemas").GetProperty("basic-error");

    /// <summary>The JSON request body's schema of an operation, or throws naming what is missing.</summary>
    public JsonElement RequestSchema(string pathTemplate, string method) =>
        Resolve(Operation(pathTemplate, method).GetProperty("requestBody")).GetProperty("content").GetProperty("application/json").GetProperty("schema");

    /// <summary>Every mismatch as "json.path: problem"; empty when the value conforms.</summary>
    public IReadOnlyList<string> Check(JsonElement value, JsonElement schema)
    {
        List<string> errors = [];
        Check(value, schema, "$", errors, 0, RejectUndeclaredProperties);
        return errors;
    }

    /// <summary>
    /// The response's headers against those the operation declares for <paramref name="status"/> (a <c>required</c>
    /// one missing, a value not of its schema, a <c>Link</c> that is not <c>&lt;URL&gt;; rel="…"</c>, …).
    /// </summary>
    public IReadOnlyList<string> CheckHeaders(string pathTemplate, string method, int status, IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers)
    {
        List<string> errors = [];
        Dictionary<string, string> values = Flatten(headers);
        if (!Resolve(Response(pathTemplate, method, status)).TryGetProperty("headers", out JsonElement declared))
        {
            return errors;
        }

        foreach (JsonProperty h in declared.EnumerateObject())
        {
            JsonElement header = Resolve(h.Value);
            if (!values.TryGetValue(h.Name, out string? value))
            {
                if (header.TryGetProperty("required", out JsonElement req) && req.GetBoolean())
                {
                    errors.Add($"header {h.Name}: required but missing");
                }

                continue;
            }

            CheckHeader(h.Name, value, header, errors);
        }

        return errors;
    }

    /// <summary>
    /// GitHub's primary rate-limit headers, which it sends on every REST answer: <c>x-ratelimit-limit</c>,
    /// <c>-remaining</c>, <c>-used</c> and <c>-reset</c> present and of the description's <c>x-rate-limit-*</c> schemas.
    /// </summary>
    public IReadOnlyList<string> CheckRateLimitHeaders(IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers)
    {
        List<string> errors = [];
        Dictionary<string, string> values = Flatten(headers);
        JsonElement components = document.GetProperty("components").GetProperty("headers");
        foreach ((string name, string component) in (ReadOnlySpan<(string, string)>)[
                     ("x-ratelimit-limit", "x-rate-limit-limit"), ("x-ratelimit-remaining", "x-rate-limit-remaining"),
                     ("x-ratelimit-used", "x-rate-limit-remaining"), ("x-ratelimit-reset", "x-rate-limit-reset")])
        {
            if (!values.TryGetValue(name, out string? value))
            {
                errors.Add($"header {name}: missing");
                continue;
            }

            CheckHeader(name, value, components.GetProperty(component), errors);
        }

        return errors;
    }

    private void CheckHeader(string name, string value, JsonElement header, List<string> errors)
    {
        JsonElement schema = header.TryGetProperty("schema", out JsonElement s) ? Resolve(s) : default;
        string type = schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("type", out JsonElement t) ? t.GetString()! : "string";
        string json = type is "integer" or "number" or "boolean" ? value : JsonSerializer.Serialize(value);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(json);
            if (schema.ValueKind == JsonValueKind.Object)
            {
                Check(doc.RootElement, schema, $"header {name}", errors, 0, false);
            }
        }
        catch (JsonException)
        {
            errors.Add($"header {name}: '{value}' is not of type {type}");
        }

        if (name.Equals("link", StringComparison.OrdinalIgnoreCase) && !LinkValue().IsMatch(value))
        {
            errors.Add($"header {name}: '{value}' is not a list of <URL>; rel=\"…\" entries");
        }
        else if (name.Equals("link", StringComparison.OrdinalIgnoreCase))
        {
            foreach (Match m in LinkEntry().Matches(value))
            {
                if (!Uri.TryCreate(m.Groups[1].Value, UriKind.Absolute, out _))
                {
                    errors.Add($"header {name}: '{m.Groups[1].Value}' is not an absolute URL");
                }
            }
        }
    }

    private static Dictionary<string, string> Flatten(IEnumerable<KeyValuePair<string, IEnumerable<string>>> headers) =>
        headers.GroupBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => string.Join(", ", g.SelectMany(h => h.Value)), StringComparer.OrdinalIgnoreCase);

    private JsonElement Operation(string pathTemplate, string method) =>
        document.GetProperty("paths").GetProperty(pathTemplate).GetProperty(method.ToLowerInvariant());

    private JsonElement Response(string pathTemplate, string method, int status) =>
        Operation(pathTemplate, method).GetProperty("responses").GetProperty(Status(status));

    private static string Status(int status) => status.ToString(CultureInfo.InvariantCulture);

    private JsonElement Resolve(JsonElement schema)
    {
        for (int i = 0; i < MaxDepth && schema.ValueKind == JsonValueKind.Object && schema.TryGetProperty("$ref", out JsonElement r); i++)
        {
            string reference = r.GetString()!;
            if (!reference.StartsWith("#/", StringComparison.Ordinal))
            {
                throw new NotSupportedException($"non-local $ref {reference}");
            }

            schema = document;
            foreach (string part in reference[2..].Split('/'))
            {
                schema = schema.GetProperty(part.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }
        }

        return schema;
    }

    private void Check(JsonElement value, JsonElement schema, string path, List<string> errors, int depth, bool strict)
    {
        if (depth > MaxDepth)
        {
            return;
        }

        schema = Resolve(schema);
        if (schema.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (value.ValueKind == JsonValueKind.Null)
        {
            bool nullable = (schema.TryGetProperty("nullable", out JsonElement n) && n.GetBoolean()) ||
                            (schema.TryGetProperty("type", out JsonElement t) && t.ValueKind == JsonValueKind.Array && t.EnumerateArray().Any(x => x.GetString() == "null")) ||
                            AnyBranchNullable(schema);
            if (!nullable)
            {
                errors.Add($"{path}: null but the schema is not nullable");
            }

            return;
        }

        bool branched = schema.TryGetProperty("oneOf", out _) || schema.TryGetProperty("anyOf", out _);
        if (schema.TryGetProperty("allOf", out JsonElement allOf))
        {
            foreach (JsonElement s in allOf.EnumerateArray())
            {
                Check(value, s, path, errors, depth + 1, strict: false); // undeclared properties are judged here, over all branches
            }
        }

        foreach (string combinator in (string[])["oneOf", "anyOf"])
        {
            if (schema.TryGetProperty(combinator, out JsonElement branches))
            {
                List<List<string>> results = [.. branches.EnumerateArray().Select(s =>
                {
                    List<string> e = [];
                    Check(value, s, path, e, depth + 1, strict);
                    return e;
                })];
                if (results.All(r => r.Count > 0))
                {
                    errors.Add($"{path}: matches no {combinator} branch (first: {results.OrderBy(r => r.Count).First()[0]})");
                }
            }
        }

        if (schema.TryGetProperty("type", out JsonElement type))
        {
            string[] types = type.ValueKind == JsonValueKind.Array ? [.. type.EnumerateArray().Select(x => x.GetString()!)] : [type.GetString()!];
            if (!types.Any(t => Is(value, t)))
            {
                errors.Add($"{path}: is {value.ValueKind}, schema wants {string.Join('|', types)}");
                return;
            }
        }

        if (schema.TryGetProperty("enum", out JsonElement en) && !en.EnumerateArray().Any(e => JsonElement.DeepEquals(e, value)))
        {
            errors.Add($"{path}: {value.GetRawText()} is not one of the enum values");
        }

        OpenApiLimits.Check(value, schema, path, errors);
        if (value.ValueKind == JsonValueKind.Object)
        {
            CheckObject(value, schema, path, errors, depth, strict && !branched);
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out JsonElement items))
        {
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                Check(item, items, $"{path}[{i++}]", errors, depth + 1, strict);
            }
        }
    }

    private void CheckObject(JsonElement value, JsonElement schema, string path, List<string> errors, int depth, bool strict)
    {
        if (schema.TryGetProperty("required", out JsonElement required))
        {
            foreach (JsonElement r in required.EnumerateArray())
            {
                if (!value.TryGetProperty(r.GetString()!, out _))
                {
                    errors.Add($"{path}: required property '{r.GetString()}' is missing");
                }
            }
        }

        JsonElement props = schema.TryGetProperty("properties", out JsonElement p) ? p : default;
        JsonElement additional = schema.TryGetProperty("additionalProperties", out JsonElement a) ? a : default;
        bool closed = additional.ValueKind == JsonValueKind.False;
        HashSet<string>? declared = closed || strict ? Declared(schema, 0) : null;
        foreach (JsonProperty prop in value.EnumerateObject())
        {
            if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(prop.Name, out JsonElement ps))
            {
                Check(prop.Value, ps, $"{path}.{prop.Name}", errors, depth + 1, strict);
            }
            else if (additional.ValueKind == JsonValueKind.Object)
            {
                Check(prop.Value, additional, $"{path}.{prop.Name}", errors, depth + 1, strict);
            }
            else if (declared is not null && !declared.Contains(prop.Name) && (closed || additional.ValueKind != JsonValueKind.True))
            {
                errors.Add(closed
                    ? $"{path}.{prop.Name}: not allowed (additionalProperties is false)"
                    : $"{path}.{prop.Name}: not declared by the schema");
            }
        }
    }

    /// <summary>The property names a schema declares, its allOf branches' included; null when it admits any.</summary>
    private HashSet<string>? Declared(JsonElement schema, int depth)
    {
        schema = Resolve(schema);
        HashSet<string> names = new(StringComparer.Ordinal);
        if (depth > MaxDepth || schema.ValueKind != JsonValueKind.Object)
        {
            return names;
        }

        if (schema.TryGetProperty("properties", out JsonElement props))
        {
            names.UnionWith(props.EnumerateObject().Select(p => p.Name));
        }

        if (schema.TryGetProperty("allOf", out JsonElement allOf))
        {
            foreach (JsonElement s in allOf.EnumerateArray())
            {
                if (Declared(s, depth + 1) is not { } more)
                {
                    return null;
                }

                names.UnionWith(more);
            }
        }

        bool open = schema.TryGetProperty("additionalProperties", out JsonElement a) && a.ValueKind is JsonValueKind.True or JsonValueKind.Object;
        return open ? null : names;
    }

    private bool AnyBranchNullable(JsonElement schema) =>
        ((string[])["oneOf", "anyOf", "allOf"]).Any(c => schema.TryGetProperty(c, out JsonElement b) &&
            b.EnumerateArray().Any(s => Resolve(s) is { ValueKind: JsonValueKind.Object } r && r.TryGetProperty("nullable", out JsonElement n) && n.GetBoolean()));

    private static bool Is(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "integer" => v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out _),
        "number" => v.ValueKind == JsonValueKind.Number,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        _ => true,
    };

    [GeneratedRegex("""^\s*<[^>]*>\s*(;\s*[A-Za-z-]+\s*=\s*("[^"]*"|[^;,\s]+)\s*)+(,\s*<[^>]*>\s*(;\s*[A-Za-z-]+\s*=\s*("[^"]*"|[^;,\s]+)\s*)+)*$""")]
    private static partial Regex LinkValue();

    [GeneratedRegex("<([^>]*)>")]
    private static partial Regex LinkEntry();
}
