using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay.Workflows;

public sealed class MatrixExpanderTests
{
    private static ExprValue S(string s) => ExprValue.String(s);

    private static IReadOnlyList<KeyValuePair<string, ExprValue>> E(params (string K, string V)[] kv) => [.. kv.Select(p => KeyValuePair.Create(p.K, S(p.V)))];

    private static readonly MatrixAxis[] FruitAnimal = [new("fruit", [S("apple"), S("pear")]), new("animal", [S("cat"), S("dog")])];

    [Fact]
    public void Expand_Axes_CartesianProductInFileOrder()
    {
        var combos = MatrixExpander.Expand(FruitAnimal, [], [], "m");
        Assert.Equal(["fruit=apple, animal=cat", "fruit=apple, animal=dog", "fruit=pear, animal=cat", "fruit=pear, animal=dog"], combos.Select(c => c.ToString()));
    }

    [Fact]
    public void Expand_GitHubDocsExample_IncludeRules()
    {
        var combos = MatrixExpander.Expand(FruitAnimal,
            [E(("color", "green")), E(("color", "pink"), ("animal", "cat")), E(("fruit", "apple"), ("shape", "circle")), E(("fruit", "banana")), E(("fruit", "banana"), ("animal", "cat"))],
            [], "m");
        Assert.Equal(
        [
            "fruit=apple, animal=cat, color=pink, shape=circle",
            "fruit=apple, animal=dog, color=green, shape=circle",
            "fruit=pear, animal=cat, color=pink",
            "fruit=pear, animal=dog, color=green",
            "fruit=banana",
            "fruit=banana, animal=cat",
        ], combos.Select(c => c.ToString()));
    }

    [Fact]
    public void Expand_ExcludePartialMatch_RemovesEveryMatching()
    {
        var combos = MatrixExpander.Expand(FruitAnimal, [], [E(("animal", "dog"))], "m");
        Assert.Equal(["fruit=apple, animal=cat", "fruit=pear, animal=cat"], combos.Select(c => c.ToString()));
    }

    [Fact]
    public void Expand_ExcludeThenInclude_IncludeCanAddBackExcluded()
    {
        var combos = MatrixExpander.Expand(FruitAnimal, [E(("fruit", "pear"), ("animal", "dog"))], [E(("fruit", "pear"), ("animal", "dog"))], "m");
        Assert.Equal(4, combos.Count);
        Assert.Equal("fruit=pear, animal=dog", combos[^1].ToString());
    }

    [Fact]
    public void Expand_OnlyInclude_EachEntryACombination()
    {
        var combos = MatrixExpander.Expand([], [E(("os", "linux")), E(("os", "mac"), ("arch", "arm"))], [], "m");
        Assert.Equal(["os=linux", "os=mac, arch=arm"], combos.Select(c => c.ToString()));
    }

    [Fact]
    public void Expand_EverythingExcluded_ErrorSaysWhy()
    {
        var e = Assert.Throws<MatrixException>(() => MatrixExpander.Expand([new("os", [S("linux")])], [], [E(("os", "linux"))], "ci.yml: job 'test'"));
        Assert.Equal("ci.yml: job 'test': the matrix expands to no combinations (exclude removes every combination and include adds none); fix strategy.matrix", e.Message);
    }

    [Fact]
    public void Expand_EmptyAxis_ErrorNamesKey() =>
        Assert.Contains("the key 'os' has no values", Assert.Throws<MatrixException>(() => MatrixExpander.Expand([new("os", [])], [], [], "m")).Message, StringComparison.Ordinal);

    [Fact]
    public void Expand_TooMany_GitHubLimit()
    {
        MatrixAxis[] axes = [new("a", [.. Enumerable.Range(0, 20).Select(i => ExprValue.Number(i))]), new("b", [.. Enumerable.Range(0, 20).Select(i => ExprValue.Number(i))])];
        Assert.Contains("at most 256", Assert.Throws<MatrixException>(() => MatrixExpander.Expand(axes, [], [], "m")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Filter_KeyValue_KeepsMatchingAndCombinationsWithoutKey()
    {
        var combos = MatrixExpander.Expand(FruitAnimal, [E(("fruit", "banana"))], [], "m");
        var kept = MatrixExpander.Filter(combos, [new("animal", "cat")], "m");
        Assert.Equal(["fruit=apple, animal=cat", "fruit=pear, animal=cat", "fruit=banana"], kept.Select(c => c.ToString()));
    }

    [Fact]
    public void Filter_SameKeyTwice_EitherValue()
    {
        var combos = MatrixExpander.Expand([new("node", [ExprValue.Number(18), ExprValue.Number(20), ExprValue.Number(22)])], [], [], "m");
        Assert.Equal(["node=18", "node=22"], MatrixExpander.Filter(combos, [new("node", "18"), new("node", "22")], "m").Select(c => c.ToString()));
    }

    [Fact]
    public void Filter_KeyTheJobLacks_IgnoredAndNamed()
    {
        IReadOnlyList<MatrixCombination> combos = MatrixExpander.Expand(FruitAnimal, [], [], "m");
        Assert.Equal(["fruit=apple, animal=cat", "fruit=apple, animal=dog"],
            MatrixExpander.Filter(combos, [new("colour", "red"), new("fruit", "apple")], "m").Select(c => c.ToString()));
        Assert.Equal(["colour"], MatrixExpander.UnknownKeys(combos, [new("colour", "red"), new("fruit", "apple")]));
    }

    [Fact]
    public void Filter_MatchesNothing_ListsCombinations() =>
        Assert.Contains("matches none of the 4 combinations: fruit=apple, animal=cat;",
            Assert.Throws<MatrixException>(() => MatrixExpander.Filter(MatrixExpander.Expand(FruitAnimal, [], [], "m"), [new("fruit", "kiwi")], "m")).Message, StringComparison.Ordinal);
}
