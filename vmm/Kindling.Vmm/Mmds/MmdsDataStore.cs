using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kindling.Vmm.Mmds;

/// <summary>
/// The metadata store: one JSON object, replaced by PUT /mmds and merge-patched by PATCH /mmds, bounded in size.
/// Written by the VMM loop, read by the net devices' MMDS stacks: every write publishes a new immutable tree, so
/// readers never see a half-applied patch and never lock.
/// </summary>
public sealed class MmdsDataStore
{
    /// <summary>Firecracker's default --mmds-size-limit.</summary>
    public const int DefaultSizeLimit = 51200;

    private volatile JsonObject _data = new();
    private volatile bool _initialized;

    public MmdsDataStore(TimeProvider time, int sizeLimit = DefaultSizeLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(sizeLimit, 2);
        SizeLimit = sizeLimit;
        Tokens = new MmdsTokenAuthority(time);
    }

    /// <summary>Largest size the store may hold: UTF-8 bytes of its data as compact JSON with only the escapes JSON requires.</summary>
    public int SizeLimit { get; }

    public MmdsTokenAuthority Tokens { get; }

    /// <summary>Kindling defaults to V2 (tokens required); mmds-config.version may select V1.</summary>
    public MmdsVersion Version { get; set; } = MmdsVersion.V2;

    /// <summary>EC2 IMDS compatibility: always answer text/plain regardless of Accept.</summary>
    public bool ImdsCompat { get; set; }

    /// <summary>The current tree. Callers must not modify it.</summary>
    public JsonObject Snapshot => _data;

    /// <summary>True once data was PUT (GET /mmds before that answers an empty object, as Firecracker does).</summary>
    public bool IsInitialized => _initialized;

    /// <summary>Replaces the store; throws <see cref="MmdsException"/> (store unchanged) when it is not an object or too big.</summary>
    public void Put(JsonNode? data)
    {
        if (data is not JsonObject obj)
        {
            throw new MmdsException("mmds: the data store must be a JSON object, e.g. {\"latest\": {...}}");
        }

        CheckSize(obj, "PUT");
        _data = (JsonObject)obj.DeepClone();
        _initialized = true;
    }

    /// <summary>Applies an RFC 7396 merge patch; throws <see cref="MmdsException"/> (store unchanged) when the result is too big.</summary>
    public void Patch(JsonNode? patch)
    {
        if (patch is not JsonObject)
        {
            throw new MmdsException("mmds: a PATCH body must be a JSON object (an RFC 7396 merge patch)");
        }

        MmdsJson.Size(patch, "mmds: the PATCH"); // refuses what no JSON text can hold before merging it
        var merged = (JsonObject)JsonMergePatch.Apply(_data, patch)!;
        CheckSize(merged, "PATCH");
        _data = merged;
        _initialized = true;
    }

    /// <summary>The store as JSON with only the escapes JSON requires: <c>2&gt;&amp;1</c> reads back as it was PUT.</summary>
    public string ToJson() => _data.ToJsonString(ReadableJson);

    private static readonly JsonSerializerOptions ReadableJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private void CheckSize(JsonObject candidate, string what)
    {
        long size = MmdsJson.Size(candidate, $"mmds: the {what}");
        if (size > SizeLimit)
        {
            throw new MmdsException(
                $"mmds: the {what} would make the data store {size} bytes; the limit is {SizeLimit} bytes (raise it with --mmds-size-limit)");
        }
    }
}
