using System.Text.Json;

namespace Kindling.Vmm.Tests.Api;

internal static class JsonAssert
{
    /// <summary>Every non-null field of <paramref name="expected"/> is present in <paramref name="actual"/> with an equal value.</summary>
    public static void ContainsFields(JsonElement expected, JsonElement actual, string where)
    {
        if (expected.ValueKind == JsonValueKind.Object)
        {
            Assert.True(actual.ValueKind == JsonValueKind.Object, $"{where}: expected an object, got {actual}");
            foreach (JsonProperty p in expected.EnumerateObject())
            {
                if (p.Value.ValueKind == JsonValueKind.Null)
                {
                    continue;
                }

                Assert.True(actual.TryGetProperty(p.Name, out JsonElement value), $"{where}.{p.Name} is missing from {actual}");
                ContainsFields(p.Value, value, $"{where}.{p.Name}");
            }
        }
        else if (expected.ValueKind == JsonValueKind.Array)
        {
            Assert.Equal(expected.GetArrayLength(), actual.GetArrayLength());
            for (int i = 0; i < expected.GetArrayLength(); i++)
            {
                ContainsFields(expected[i], actual[i], $"{where}[{i}]");
            }
        }
        else
        {
            Assert.True(JsonElement.DeepEquals(expected, actual), $"{where}: expected {expected}, got {actual}");
        }
    }
}
