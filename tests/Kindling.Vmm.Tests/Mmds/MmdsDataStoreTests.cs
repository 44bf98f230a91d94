using System.Text.Json.Nodes;
using Kindling.Testing;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Mmds;

public sealed class MmdsDataStoreTests
{
    // RFC 7396 appendix A examples.
    [Theory]
    [InlineData("""{"a":"b"}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"b":"c"}""", """{"a":"b","b":"c"}""")]
    [InlineData("""{"a":"b"}""", """{"a":null}""", """{}""")]
    [InlineData("""{"a":"b","b":"c"}""", """{"a":null}""", """{"b":"c"}""")]
    [InlineData("""{"a":["b"]}""", """{"a":"c"}""", """{"a":"c"}""")]
    [InlineData("""{"a":"c"}""", """{"a":["b"]}""", """{"a":["b"]}""")]
    [InlineData("""{"a":{"b":"c"}}""", """{"a":{"b":"d","c":null}}""", """{"a":{"b":"d"}}""")]
    [InlineData("""{"a":[{"b":"c"}]}""", """{"a":[1]}""", """{"a":[1]}""")]
    [InlineData("""{"e":null}""", """{"a":1}""", """{"e":null,"a":1}""")]
    [InlineData("""{}""", """{"a":{"bb":{"ccc":null}}}""", """{"a":{"bb":{}}}""")]
    public void Patch_Rfc7396Examples_Merge(string target, string patch, string expected)
    {
        var store = new MmdsDataStore(new FakeTimeProvider());
        store.Put(JsonNode.Parse(target));

        store.Patch(JsonNode.Parse(patch));

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), store.Snapshot), store.ToJson());
    }

    [Fact]
    public void Put_OverLimit_ThrowsAndKeepsOldData()
    {
        var store = new MmdsDataStore(new FakeTimeProvider(), sizeLimit: 20);
        store.Put(JsonNode.Parse("""{"a":"b"}"""));

        var e = Assert.Throws<MmdsException>(() => store.Put(JsonNode.Parse("""{"a":"0123456789012345"}""")));

        Assert.Contains("20", e.Message, StringComparison.Ordinal);
        Assert.Equal("""{"a":"b"}""", store.ToJson());
    }

    [Fact]
    public void Put_CallerMutatesInputAfterwards_StoreUnaffected()
    {
        var store = new MmdsDataStore(new FakeTimeProvider());
        var data = new JsonObject { ["a"] = "b" };

        store.Put(data);
        data["a"] = "changed";

        Assert.Equal("""{"a":"b"}""", store.ToJson());
    }
}
