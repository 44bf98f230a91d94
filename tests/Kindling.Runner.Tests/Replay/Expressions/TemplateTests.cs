using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Tests.Replay.Expressions;

public sealed class TemplateTests
{
    private static readonly ExprContext Ctx = new()
    {
        Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase)
        {
            ["matrix"] = ExprValue.Object([new("node", ExprValue.Number(20)), new("list", ExprValue.Array([ExprValue.String("a")]))]),
            ["secrets"] = ExprValue.Object([new("T", ExprValue.Secret("T", "tok"))]).AsOpaqueSecret(),
        },
    };

    [Fact]
    public void Evaluate_MixedText_JoinsAsText() =>
        Assert.Equal("node-20-x", Template.Evaluate("node-${{ matrix.node }}-x", Ctx).ToString());

    [Fact]
    public void Evaluate_LoneExpression_KeepsType() =>
        Assert.Equal(ExprKind.Array, Template.Evaluate("  ${{ matrix.list }} ", Ctx).Kind);

    [Fact]
    public void Evaluate_NoExpression_PlainText() => Assert.Equal("plain", Template.Evaluate("plain", Ctx).ToString());

    [Fact]
    public void Evaluate_BracesInsideString_DoNotClose() =>
        Assert.Equal("a}}b", Template.Evaluate("${{ format('a{0}b', '}}') }}", Ctx).ToString());

    [Fact]
    public void Evaluate_SecretInText_RecipeOfTextAndSecret()
    {
        ExprValue v = Template.Evaluate("Bearer ${{ secrets.T }} (node ${{ matrix.node }})", Ctx);
        Assert.True(v.IsSecret);
        Assert.Equal("Bearer tok (node 20)", v.AsString);
        Assert.Equal([SecretPart.FromText("Bearer "), SecretPart.FromSecret("T"), SecretPart.FromText(" (node 20)")], v.SecretParts!);
    }

    [Fact]
    public void Parse_Unclosed_ErrorNamesTheSpot()
    {
        var e = Assert.Throws<ExpressionException>(() => Template.Parse("echo ${{ github.sha", "step 1: run"));
        Assert.Equal("step 1: run: '${{ github.sha' opens ${{ without a closing }}", e.Message);
    }

    [Theory]
    [InlineData("success()")]
    [InlineData("${{ success() }}")]
    [InlineData("  ${{success()}}  ")]
    public void ParseCondition_BareOrWrapped_SameCall(string condition) =>
        Assert.Equal("success", Assert.IsType<CallExpr>(Template.ParseCondition(condition, "if")).Name);
}
