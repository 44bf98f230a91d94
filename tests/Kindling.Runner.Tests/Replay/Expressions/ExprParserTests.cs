using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Tests.Replay.Expressions;

public sealed class ExprParserTests
{
    [Fact]
    public void Parse_Precedence_AndBindsTighterThanOr()
    {
        Expr e = ExprParser.Parse("a || b && c");
        var or = Assert.IsType<BinaryExpr>(e);
        Assert.Equal(BinaryOp.Or, or.Op);
        Assert.Equal(BinaryOp.And, Assert.IsType<BinaryExpr>(or.Right).Op);
    }

    [Fact]
    public void Parse_ComparisonBindsTighterThanEquality()
    {
        var eq = Assert.IsType<BinaryExpr>(ExprParser.Parse("1 < 2 == true"));
        Assert.Equal(BinaryOp.Equal, eq.Op);
        Assert.Equal(BinaryOp.Less, Assert.IsType<BinaryExpr>(eq.Left).Op);
    }

    [Fact]
    public void Parse_NotAppliesToPostfixChain()
    {
        var not = Assert.IsType<NotExpr>(ExprParser.Parse("!github.event.pull_request.draft"));
        var draft = Assert.IsType<PropertyExpr>(not.Operand);
        Assert.Equal("draft", draft.Name);
    }

    [Fact]
    public void Parse_IndexAndHyphenatedProperty_Kept()
    {
        var idx = Assert.IsType<IndexExpr>(ExprParser.Parse("steps.my-step.outputs['x']"));
        var outputs = Assert.IsType<PropertyExpr>(idx.Target);
        Assert.Equal("my-step", Assert.IsType<PropertyExpr>(outputs.Target).Name);
    }

    [Theory]
    [InlineData("'it''s'", "it's")]
    [InlineData("''", "")]
    [InlineData("'}}'", "}}")]
    public void Parse_StringLiteral_DoubledQuoteIsEscape(string text, string expected) =>
        Assert.Equal(expected, Assert.IsType<LiteralExpr>(ExprParser.Parse(text)).Value.AsString);

    [Theory]
    [InlineData("42", 42)]
    [InlineData("-3.5", -3.5)]
    [InlineData("0xff", 255)]
    [InlineData("2e3", 2000)]
    [InlineData(".5", 0.5)]
    public void Parse_NumberLiteral_GitHubForms(string text, double expected) =>
        Assert.Equal(expected, Assert.IsType<LiteralExpr>(ExprParser.Parse(text)).Value.AsNumber);

    [Fact]
    public void Parse_CallWithArguments_NamesAndArgs()
    {
        var call = Assert.IsType<CallExpr>(ExprParser.Parse("format('{0}-{1}', matrix.os, 3)"));
        Assert.Equal("format", call.Name);
        Assert.Equal(3, call.Arguments.Count);
    }

    [Theory]
    [InlineData("github.ref = 'x'", "unexpected character '=' at column 12 (comparison is ==)")]
    [InlineData("\"main\"", "unexpected character '\"' at column 1 (strings use single quotes)")]
    [InlineData("a ==", "the expression ended where a value was expected at column 5")]
    [InlineData("'open", "the string starting at column 1 is not closed")]
    [InlineData("(a", "expected ')' but the expression ended")]
    [InlineData("a b", "unexpected 'b' at column 3")]
    [InlineData("github.*.", "expected a property name after '.'")]
    [InlineData("", "is empty")]
    public void Parse_Invalid_MessageSaysWhereAndWhy(string text, string expected)
    {
        var e = Assert.Throws<ExpressionException>(() => ExprParser.Parse(text));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_DeepNesting_RefusedWithLimit()
    {
        string deep = new string('(', 60) + "1" + new string(')', 60);
        Assert.Contains("nesting deeper than", Assert.Throws<ExpressionException>(() => ExprParser.Parse(deep)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CallsStatusFunction_FindsNestedCall()
    {
        Assert.True(ExprTree.CallsStatusFunction(ExprParser.Parse("github.ref == 'x' && !cancelled()")));
        Assert.False(ExprTree.CallsStatusFunction(ExprParser.Parse("contains(github.ref, 'x')")));
    }

    [Fact]
    public void SecretNames_LiteralAndComputed()
    {
        Assert.Equal(["A", "B", null], ExprTree.SecretNames(ExprParser.Parse("secrets.A || secrets['B'] || secrets[matrix.k]")));
    }
}
