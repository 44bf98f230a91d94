using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Tests.Replay.Expressions;

public sealed class ExprEvaluatorTests
{
    private static readonly ExprContext Ctx = new()
    {
        Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
        {
            ["github"] = ExprValue.Object(
            [
                new("ref", ExprValue.String("refs/heads/main")), new("event_name", ExprValue.String("push")),
                new("event", ExprValue.Object([new("commits", ExprValue.Array([ExprValue.String("a"), ExprValue.String("b")]))])),
            ]),
            ["matrix"] = ExprValue.Object([new("node", ExprValue.Number(20)), new("os", ExprValue.String("Linux"))]),
            ["secrets"] = ExprValue.Object([new("TOKEN", ExprValue.Secret("TOKEN", "t0k3n"))]).AsOpaqueSecret(),
        },
        Unavailable = new Dictionary<string, string> { ["steps"] = "step outputs are not passed" },
    };

    private static ExprValue Eval(string text, bool? failed = null) => ExprEvaluator.Evaluate(text, Ctx with { JobFailed = failed });

    [Theory]
    [InlineData("github.ref == 'refs/heads/main'", true)]
    [InlineData("github.ref == 'REFS/HEADS/MAIN'", true)] // strings compare ignoring case
    [InlineData("matrix.node == '20'", true)] // different kinds: compared as numbers
    [InlineData("matrix.node == 20.0", true)]
    [InlineData("matrix.node != 18", true)]
    [InlineData("null == 0", true)]
    [InlineData("true == 1", true)]
    [InlineData("'' == 0", true)]
    [InlineData("'abc' == 0", false)] // NaN
    [InlineData("NaN == NaN", false)]
    [InlineData("matrix.node > 18 && matrix.node <= 20", true)]
    [InlineData("'b' > 'A'", true)]
    [InlineData("github.missing == null", true)]
    [InlineData("github.event.commits[1] == 'b'", true)]
    [InlineData("github.event.commits[5] == null", true)]
    [InlineData("!github.missing", true)]
    [InlineData("!!matrix.os", true)]
    public void Evaluate_Comparisons_GitHubSemantics(string text, bool expected) => Assert.Equal(expected, Eval(text).IsTruthy);

    [Theory]
    [InlineData("matrix.os && 'yes'", "yes")]
    [InlineData("github.missing || 'fallback'", "fallback")]
    [InlineData("matrix.os || 'fallback'", "Linux")]
    [InlineData("'' && 'never'", "")]
    public void Evaluate_AndOr_ReturnOperands(string text, string expected) => Assert.Equal(expected, Eval(text).ToString());

    [Theory]
    [InlineData("contains(github.ref, 'MAIN')", true)]
    [InlineData("contains(github.event.commits, 'A')", true)]
    [InlineData("contains(github.event.commits, 'z')", false)]
    [InlineData("startsWith(github.ref, 'refs/heads/')", true)]
    [InlineData("endsWith(github.ref, '/Main')", true)]
    public void Evaluate_StringFunctions_IgnoreCase(string text, bool expected) => Assert.Equal(expected, Eval(text).IsTruthy);

    [Theory]
    [InlineData("format('{0}-{1}', matrix.os, matrix.node)", "Linux-20")]
    [InlineData("format('{{literal}} {0}', 'x')", "{literal} x")]
    [InlineData("join(github.event.commits, '+')", "a+b")]
    [InlineData("join(github.event.commits)", "a,b")]
    [InlineData("fromJSON('{\"a\":[1,2]}').a[1]", "2")]
    [InlineData("toJSON(matrix.node)", "20")]
    [InlineData("1.5", "1.5")]
    [InlineData("3", "3")]
    [InlineData("github.event", "Object")]
    public void Evaluate_Functions_Text(string text, string expected) => Assert.Equal(expected, Eval(text).ToString());

    [Theory]
    [InlineData("join(fromJSON('{\"a\":{\"x\":1},\"b\":{\"x\":2},\"c\":{}}').*.x)", "1,2")]
    [InlineData("join(fromJSON('[{\"x\":[1,2]},{\"x\":[3]}]').*.x.*)", "1,2,3")]
    [InlineData("join(fromJSON('[{\"x\":\"a\"},{\"x\":\"b\"}]').*['x'], '+')", "a+b")]
    [InlineData("contains(fromJSON('{\"a\":{\"r\":\"success\"},\"b\":{\"r\":\"failure\"}}').*.r, 'failure')", "true")]
    [InlineData("toJSON(matrix.*)", "[\n  20,\n  \"Linux\"\n]")]
    public void Evaluate_ObjectFilter_AppliesToEachItem(string text, string expected) =>
        Assert.Equal(expected, Eval(text).ToString().Replace("\r\n", "\n", StringComparison.Ordinal));

    [Fact]
    public void Evaluate_ToJson_Indented()
    {
        Assert.Equal("{\n  \"node\": 20,\n  \"os\": \"Linux\"\n}", Eval("toJSON(matrix)").ToString().Replace("\r\n", "\n", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("success()", false, true)]
    [InlineData("success()", true, false)]
    [InlineData("failure()", true, true)]
    [InlineData("always()", true, true)]
    [InlineData("cancelled()", false, false)]
    [InlineData("!cancelled()", true, true)]
    public void Evaluate_StatusFunctions_FollowJobState(string text, bool failed, bool expected) => Assert.Equal(expected, Eval(text, failed).IsTruthy);

    [Fact]
    public void Evaluate_StatusFunctionOutsideIf_Error() =>
        Assert.Contains("success() can only be used in if:", Assert.Throws<ExpressionException>(() => Eval("success()")).Message, StringComparison.Ordinal);

    [Theory]
    [InlineData("steps.build.outputs.x", "the 'steps' context is not available: step outputs are not passed")]
    [InlineData("foo.bar", "unknown name 'foo' (contexts here: github, matrix, secrets")]
    [InlineData("nosuch(1)", "unknown function nosuch()")]
    [InlineData("contains('a')", "contains() takes 2 argument(s), not 1")]
    [InlineData("format('{1}', 'a')", "uses {1} but only 1 argument(s) follow")]
    [InlineData("format('{x}', 'a')", "is not {N}")]
    [InlineData("hashFiles('**/go.sum')", "hashFiles() is only available in a job's steps")]
    [InlineData("fromJSON('{nope')", "is not JSON")]
    public void Evaluate_Unsupported_ClearError(string text, string expected) =>
        Assert.Contains(expected, Assert.Throws<ExpressionException>(() => Eval(text)).Message, StringComparison.Ordinal);

    [Fact]
    public void Evaluate_SecretProperty_MarkedWithRecipe()
    {
        ExprValue v = Eval("secrets.token"); // names are case-insensitive
        Assert.True(v.IsSecret);
        Assert.Equal("t0k3n", v.AsString);
        Assert.Equal([SecretPart.FromSecret("TOKEN")], v.SecretParts!);
    }

    [Fact]
    public void Evaluate_SecretThroughOr_KeepsRecipe() => Assert.NotNull(Eval("secrets.TOKEN || 'x'").SecretParts);

    [Fact]
    public void Evaluate_SecretThroughFormat_OpaqueSecret()
    {
        ExprValue v = Eval("format('Bearer {0}', secrets.TOKEN)");
        Assert.True(v.IsSecret);
        Assert.Null(v.SecretParts);
    }

    [Fact]
    public void Evaluate_SecretComparison_NotSecret() => Assert.False(Eval("secrets.TOKEN == 'x'").IsSecret);

    [Fact]
    public void Describe_Secret_NeverShowsValue() => Assert.Equal("***", Eval("secrets.TOKEN").Describe());
}
