using System.Text.Json.Nodes;

namespace Kindling.Vmm.Mmds;

/// <summary>RFC 7396 JSON merge patch.</summary>
public static class JsonMergePatch
{
    /// <summary>Returns <paramref name="target"/> patched by <paramref name="patch"/>; neither input is modified.</summary>
    public static JsonNode? Apply(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        JsonObject result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach ((string name, JsonNode? value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(name);
            }
            else
            {
                result.TryGetPropertyValue(name, out JsonNode? existing);
                JsonNode? merged = Apply(existing, value);
                result.Remove(name);
                result[name] = merged;
            }
        }

        return result;
    }
}
