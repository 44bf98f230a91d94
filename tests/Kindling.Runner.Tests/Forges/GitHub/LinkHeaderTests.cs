using Kindling.Runner.Forges.GitHub;

namespace Kindling.Runner.Tests.Forges.GitHub;

public sealed class LinkHeaderTests
{
    [Fact]
    public void Find_GitHubsMiddlePage_EachRelation()
    {
        // As GitHub writes it (docs: "Using pagination in the REST API").
        string[] header =
        [
            "<https://api.github.com/repositories/1300192/issues?page=2>; rel=\"prev\", <https://api.github.com/repositories/1300192/issues?page=4>; rel=\"next\", " +
            "<https://api.github.com/repositories/1300192/issues?page=515>; rel=\"last\", <https://api.github.com/repositories/1300192/issues?page=1>; rel=\"first\"",
        ];
        Assert.Equal("https://api.github.com/repositories/1300192/issues?page=4", LinkHeader.Find(header, "next"));
        Assert.Equal("https://api.github.com/repositories/1300192/issues?page=2", LinkHeader.Find(header, "prev"));
        Assert.Equal("https://api.github.com/repositories/1300192/issues?page=515", LinkHeader.Find(header, "last"));
    }

    [Theory]
    [InlineData("<https://h/x?page=2>; rel=next", "https://h/x?page=2")]
    [InlineData("<https://h/x?a=1,2&page=2>; title=\"a;b\"; rel=\"next last\"", "https://h/x?a=1,2&page=2")]
    [InlineData("<https://h/x?page=1>; rel=\"prev\"", null)]
    [InlineData("", null)]
    public void Find_Variants_NextOrNull(string header, string? expected) =>
        Assert.Equal(expected, LinkHeader.Find([header], "next"));

    [Fact]
    public void Find_NoHeader_Null() => Assert.Null(LinkHeader.Find(null, "next"));
}
