using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay.Workflows;

public sealed class UsesReferenceTests
{
    [Theory]
    [InlineData("actions/checkout@v4")]
    [InlineData("octo-org/tools/lint/js@main")]
    [InlineData("octo-org/tools@0123456789abcdef0123456789abcdef01234567")]
    [InlineData("octo-org/tools@release/2.x")]
    [InlineData("./local/action")]
    [InlineData("./")]
    [InlineData("docker://alpine:3.20")]
    public void Problem_WellFormed_Null(string uses) => Assert.Null(UsesReference.Problem(uses));

    [Theory]
    [InlineData("actions/checkout", "expected {owner}/{repo}[/path]@ref")]
    [InlineData("checkout@v4", "expected {owner}/{repo}[/path]@ref")]
    [InlineData("actions/checkout@", "expected {owner}/{repo}[/path]@ref")]
    [InlineData("actions//checkout@v4", "expected {owner}/{repo}[/path]@ref")]
    [InlineData("actions/checkout@b4ffde6", "the ref b4ffde6 is a shortened commit SHA")]
    [InlineData("actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae1", "the ref b4ffde65f46336ab88eb53be808477a3936bae1 is a shortened commit SHA")]
    public void Problem_Malformed_NamesTheShapeGitHubExpects(string uses, string expected) =>
        Assert.StartsWith(expected, UsesReference.Problem(uses) ?? "(accepted)", StringComparison.Ordinal);
}
