using Kindling.Vmm.Jail;

namespace Kindling.Vmm.Tests.Jail;

public sealed class JailIdTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("vm-0042")]
    [InlineData("ABC-def-123")]
    public void Problem_ValidId_IsNull(string id) => Assert.Null(JailId.Problem(id));

    [Fact]
    public void Problem_SixtyFourCharacters_IsNull() => Assert.Null(JailId.Problem(new string('a', 64)));

    [Fact]
    public void Problem_SixtyFiveCharacters_NamesTheLimit() =>
        Assert.Contains("limit is 64", JailId.Problem(new string('a', 65)), StringComparison.Ordinal);

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a/b", "'/'")]
    [InlineData("..", "'.'")]
    [InlineData("a b", "' '")]
    [InlineData("a_b", "'_'")]
    [InlineData("é", "'é'")]
    public void Problem_InvalidId_NamesTheOffendingCharacter(string id, string expected) =>
        Assert.Contains(expected, JailId.Problem(id), StringComparison.Ordinal);

    [Fact]
    public void Validate_InvalidId_Throws() => Assert.Throws<JailException>(() => JailId.Validate("x/../../etc"));
}
