using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kindling.Vmm.Mmds;

/// <summary>
/// The metadata service's HTTP semantics as a pure function (request → response), Firecracker's behaviour:
/// <c>PUT /latest/api/token</c> issues session tokens, <c>GET</c> reads the store (V2: only with a valid
/// <c>X-metadata-token</c>), answering JSON for <c>Accept: application/json</c> and IMDS text otherwise.
/// Served by <see cref="Net.MmdsNetworkStack"/> inside the VMM and usable over any socket in tests.
/// </summary>
public sealed class MmdsHttpResponder(MmdsDataStore store)
{
    public const string TokenPath = "/latest/api/token";
    public const string TokenHeader = "X-metadata-token";
    public const string AwsTokenHeader = "X-aws-ec2-metadata-token";
    public const string TtlHeader = "X-metadata-token-ttl-seconds";
    public const string AwsTtlHeader = "X-aws-ec2-metadata-token-ttl-seconds";
    public const string ForwardedForHeader = "X-Forwarded-For";

    public MmdsHttpResponse Respond(MmdsHttpRequest request)
    {
        string? path = SanitizePath(request.Target);
        if (path is null)
        {
            return Text(400, "Invalid URI.");
        }

        return request.Method switch
        {
            "GET" => RespondToGet(request, path),
            "PUT" => RespondToPut(request, path),
            _ => Text(405, "Not allowed HTTP method.") with { ExtraHeaders = [("Allow", "GET, PUT")] },
        };
    }

    private MmdsHttpResponse RespondToPut(MmdsHttpRequest request, string path)
    {
        if (request.Header(ForwardedForHeader) is not null)
        {
            return Text(400, $"Invalid header. Reason: Unsupported header name. Key: {ForwardedForHeader}");
        }

        if (path != TokenPath)
        {
            return Text(404, $"Resource not found: {path}.");
        }

        string? ttlName = request.Header(TtlHeader) is not null ? TtlHeader : request.Header(AwsTtlHeader) is not null ? AwsTtlHeader : null;
        if (ttlName is null)
        {
            return Text(400, $"Token time to live value not found. Use `{TtlHeader}` header to specify the token's lifetime.");
        }

        string ttlText = request.Header(ttlName)!.Trim();
        if (!long.TryParse(ttlText, NumberStyles.None, CultureInfo.InvariantCulture, out long ttl))
        {
            return Text(400, $"Invalid value. Key:{ttlName}; Value:{ttlText}");
        }

        try
        {
            return Text(200, store.Tokens.Generate(ttl));
        }
        catch (MmdsException e)
        {
            return Text(400, e.Message);
        }
    }

    private MmdsHttpResponse RespondToGet(MmdsHttpRequest request, string path)
    {
        string? token = request.Header(TokenHeader) ?? request.Header(AwsTokenHeader);
        if (store.Version == MmdsVersion.V2 && token is null)
        {
            return Text(401, $"No MMDS token provided. Use `{TokenHeader}` header to specify the session token.");
        }

        // V1 needs no token, but a token that is presented must be valid in either version.
        if (token is not null && !store.Tokens.IsValid(token))
        {
            return Text(401, "MMDS token not valid.");
        }

        JsonNode? node = Lookup(store.Snapshot, path, out bool found);
        if (!found)
        {
            return Text(404, $"Resource not found: {path}.");
        }

        bool json = !store.ImdsCompat && AcceptsJson(request.Header("Accept"));
        if (json)
        {
            return new MmdsHttpResponse(200, MmdsHttpResponse.ApplicationJson, node?.ToJsonString() ?? "null");
        }

        string? text = ToImds(node);
        return text is null
            ? Text(400, "Cannot retrieve value. The value has an unsupported type.")
            : Text(200, text);
    }

    private static bool AcceptsJson(string? accept) =>
        accept is not null && accept.Split(',').Any(a => a.Split(';')[0].Trim().Equals(MmdsHttpResponse.ApplicationJson, StringComparison.OrdinalIgnoreCase));

    /// <summary>IMDS text: an object lists its keys one per line (sub-objects end with '/'); a string is itself; anything else is unsupported.</summary>
    private static string? ToImds(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var sb = new StringBuilder();
                foreach (KeyValuePair<string, JsonNode?> kv in obj.OrderBy(kv => kv.Key, StringComparer.Ordinal))
                {
                    if (sb.Length > 0)
                    {
                        sb.Append('\n');
                    }

                    sb.Append(kv.Key);
                    if (kv.Value is JsonObject)
                    {
                        sb.Append('/');
                    }
                }

                return sb.ToString();
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                return value.GetValue<string>();
            default:
                return null;
        }
    }

    private static JsonNode? Lookup(JsonNode root, string path, out bool found)
    {
        JsonNode? current = root;
        foreach (string segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            switch (current)
            {
                case JsonObject obj when obj.TryGetPropertyValue(segment, out JsonNode? child):
                    current = child;
                    break;
                case JsonArray array when int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out int i) && i < array.Count:
                    current = array[i];
                    break;
                default:
                    found = false;
                    return null;
            }
        }

        found = true;
        return current;
    }

    /// <summary>The absolute path without query, repeated slashes collapsed and no trailing slash; null when not an absolute path.</summary>
    private static string? SanitizePath(string target)
    {
        if (target.Length == 0 || target[0] != '/')
        {
            return null;
        }

        int query = target.IndexOfAny(['?', '#']);
        string path = query >= 0 ? target[..query] : target;
        string[] parts = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        return "/" + string.Join('/', parts.Select(Uri.UnescapeDataString));
    }

    private static MmdsHttpResponse Text(int status, string body) => new(status, MmdsHttpResponse.TextPlain, body);
}
