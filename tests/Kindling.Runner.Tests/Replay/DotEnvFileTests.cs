using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

public sealed class DotEnvFileTests
{
    private static IReadOnlyList<KeyValuePair<string, string>> Parse(string text, Func<string, string?>? env = null) =>
        DotEnvFile.Parse(text, ".secrets", env ?? (_ => null));

    [Fact]
    public void Parse_ActFormats_AllForms()
    {
        var e = Parse("""
            # comment
            A=plain value # trailing comment
            export B=exported
            C: yaml style
            D='single $A #not a comment'
            E="double\nline \"q\" $A ${B}"
            F=
            G="multi
            line"
            """);
        Assert.Equal(
        [
            new("A", "plain value"), new("B", "exported"), new("C", "yaml style"), new("D", "single $A #not a comment"),
            new("E", "double\nline \"q\" plain value exported"), new("F", ""), new("G", "multi\nline"),
        ], e);
    }

    [Fact]
    public void Parse_Expansion_FromEnvironmentWhenNotEarlier() =>
        Assert.Equal("from-env/", Parse("X=$HOME_DIR/$UNSET", n => n == "HOME_DIR" ? "from-env" : null)[0].Value);

    [Fact]
    public void Parse_EscapedDollar_Literal() => Assert.Equal("$5", Parse("PRICE=\\$5")[0].Value);

    [Fact]
    public void Parse_LaterWins() => Assert.Equal([new("A", "2")], Parse("A=1\nA=2"));

    [Theory]
    [InlineData("1BAD=x", ".secrets:1: expected NAME=value")]
    [InlineData("just words", ".secrets:1: expected NAME=value")]
    [InlineData("OK=1\nQ=\"open", ".secrets:2: the \"quoted\" value of Q is not closed")]
    [InlineData("Q='a' b", ".secrets:1: unexpected 'b' after the closing ' of Q")]
    public void Parse_Malformed_FileAndLine(string text, string expected) =>
        Assert.StartsWith(expected, Assert.Throws<ReplayException>(() => Parse(text)).Message, StringComparison.Ordinal);
}
