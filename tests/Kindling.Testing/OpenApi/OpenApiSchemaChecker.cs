using System.Text.Json;

namespace Kindling.Testing.OpenApi;

/// <summary>
/// A small checker of JSON values against OpenAPI 3.0 schemas: <c>$ref</c> (local), <c>type</c>, <c>nullable</c>,
/// <c>required</c>, <c>properties</c>, <c>items</c>, <c>enum</c> (strings), <c>allOf</c>, <c>oneOf</c>/<c>anyOf</c>
/// (one branch must pass). Enough to prove a fake answers in the documented shape; formats are not checked.
/// </summary>
public sealed class OpenApiSchemaChecker(JsonElement document)
{
    private const int MaxDepth = 64;

    /// <summary>The response schema of an operation, or throws naming what is missing.</summary>
    public JsonElement ResponseSchema(string pathTemplate, string method, int status)
    {
        JsonElement op = document.GetProperty("paths").GetProperty(pathTemplate).GetProperty(method.ToLowerInvariant());
        JsonElement response = Resolve(op.GetProperty("responses").GetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return response.GetProperty("content").GetProperty("application/json").GetProperty("schema");
    }

    /// <summary>Every mismatch as "json.path: problem"; empty when the value conforms.</summary>
    public IReadOnlyList<string> Check(JsonElement value, JsonElement schema)
    {
        List<string> errors = [];
        Check(value, schema, "$", errors, 0);
        return errors;
    }

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

    private void Check(JsonElement value, JsonElement schema, string path, List<string> errors, int depth)
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

        if (schema.TryGetProperty("allOf", out JsonElement allOf))
        {
            foreach (JsonElement s in allOf.EnumerateArray())
            {
                Check(value, s, path, errors, depth + 1);
            }
        }

        foreach (string combinator in (string[])["oneOf", "anyOf"])
        {
            if (schema.TryGetProperty(combinator, out JsonElement branches))
            {
                List<List<string>> results = [.. branches.EnumerateArray().Select(s =>
                {
                    List<string> e = [];
                    Check(value, s, path, e, depth + 1);
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

        if (schema.TryGetProperty("enum", out JsonElement en) && value.ValueKind == JsonValueKind.String &&
            en.EnumerateArray().All(e => e.ValueKind != JsonValueKind.String || e.GetString() != value.GetString()) &&
            en.EnumerateArray().Any(e => e.ValueKind == JsonValueKind.String))
        {
            errors.Add($"{path}: '{value.GetString()}' is not one of the enum values");
        }

        if (value.ValueKind == JsonValueKind.Object)
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

            if (schema.TryGetProperty("properties", out JsonElement props))
            {
                foreach (JsonProperty p in value.EnumerateObject())
                {
                    if (props.TryGetProperty(p.Name, out JsonElement ps))
                    {
                        Check(p.Value, ps, $"{path}.{p.Name}", errors, depth + 1);
                    }
                }
            }
        }
        else if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out JsonElement items))
        {
            int i = 0;
            foreach (JsonElement item in value.EnumerateArray())
            {
                Check(item, items, $"{path}[{i++}]", errors, depth + 1);
            }
        }
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
}
