using System.Text;
using System.Text.Json.Nodes;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Tests.Mmds;

public sealed class MmdsJsonTests
{
    [Theory]
    [InlineData("""{"b":1,"b":2}""", "\"b\" appears twice in $")]
    [InlineData("""{"a":{"c":[{"d":1,"d":1}]}}""", "\"d\" appears twice in $.a.c[0]")]
    public void Parse_DuplicateKey_NamesTheKeyAndWhere(string json, string expected)
    {
        MmdsException e = Assert.Throws<MmdsException>(() => MmdsJson.Parse(json, "mmds"));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"k":"\ud800"}""", "$.k")]
    [InlineData("""{"\udfff":1}""", "$ (a key)")]
    [InlineData("""{"a":["x\udbff"]}""", "$.a[0]")]
    public void Parse_LoneSurrogate_IsRefusedNamingWhere(string json, string where)
    {
        MmdsException e = Assert.Throws<MmdsException>(() => MmdsJson.Parse(json, "mmds"));

        Assert.Contains(where, e.Message, StringComparison.Ordinal);
        Assert.Contains("not valid Unicode", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SurrogatePair_IsAccepted() =>
        Assert.Equal("\U0001F600", MmdsJson.Parse("""{"k":"\ud83d\ude00"}""", "mmds")!["k"]!.GetValue<string>());

    [Theory]
    [InlineData("""{"s":"2>&1 && <a href='x'>+</a>"}""")]
    [InlineData("""{"é":"ünïcødé 😀","n":[1,2.5,-3e10,true,false,null],"o":{}}""")]
    [InlineData("""{"q":"say \"hi\"\\n","c":"\u0001\n\t"}""")]
    [InlineData("{}")]
    public void Size_IsTheByteCountOfTheCompactData(string compact)
    {
        JsonNode node = JsonNode.Parse(compact)!;

        Assert.Equal(Encoding.UTF8.GetByteCount(compact), MmdsJson.Size(node, "mmds"));
    }

    [Fact]
    public void Size_ControlCharacterWithoutShortEscape_CountsSixBytes() =>
        Assert.Equal(2 + 6, MmdsJson.Size(JsonValue.Create("\u0001"), "mmds"));
}
