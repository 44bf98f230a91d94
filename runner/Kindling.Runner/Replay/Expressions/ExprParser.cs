using System.Text;

namespace Kindling.Runner.Replay.Expressions;

/// <summary>
/// Parses GitHub's expression syntax (what goes inside <c>${{ }}</c> and in <c>if:</c>): literals (null, booleans,
/// numbers incl. hex and exponents, single-quoted strings with '' as the escape), contexts, <c>.name</c> and
/// <c>[index]</c>, the object filter <c>.*</c>, calls, <c>!</c>, <c>&lt; &lt;= &gt; &gt;=</c>, <c>== !=</c>, <c>&amp;&amp;</c>, <c>||</c> and parentheses, with
/// GitHub's precedence (in that order, tightest first). Errors name the column.
/// </summary>
public sealed class ExprParser
{
    private const int MaxDepth = 50;

    private readonly string _text;
    private readonly List<Token> _tokens;
    private int _pos;
    private int _depth;

    private ExprParser(string text)
    {
        _text = text;
        _tokens = Lex(text);
    }

    public static Expr Parse(string text)
    {
        var p = new ExprParser(text);
        if (p.Peek.Kind == TokenKind.End)
        {
            throw new ExpressionException($"expression '{text}' is empty");
        }

        Expr e = p.ParseOr();
        if (p.Peek.Kind != TokenKind.End)
        {
            throw p.Error($"unexpected '{p.Peek.Text}'");
        }

        return e;
    }

    private enum TokenKind
    {
        Identifier,
        Number,
        String,
        Punct,
        End,
    }

    private sealed record Token(TokenKind Kind, string Text, int Column, ExprValue? Value = null);

    private Token Peek => _tokens[_pos];

    private Token Next() => _tokens[_pos++];

    private bool Accept(string punct)
    {
        if (Peek.Kind == TokenKind.Punct && Peek.Text == punct)
        {
            _pos++;
            return true;
        }

        return false;
    }

    private void Expect(string punct)
    {
        if (!Accept(punct))
        {
            throw Error(Peek.Kind == TokenKind.End ? $"expected '{punct}' but the expression ended" : $"expected '{punct}' but found '{Peek.Text}'");
        }
    }

    private ExpressionException Error(string what) =>
        new($"expression '{_text}': {what} at column {Peek.Column}");

    private Expr ParseOr()
    {
        Expr left = ParseAnd();
        while (Accept("||"))
        {
            left = new BinaryExpr(BinaryOp.Or, left, ParseAnd());
        }

        return left;
    }

    private Expr ParseAnd()
    {
        Expr left = ParseEquality();
        while (Accept("&&"))
        {
            left = new BinaryExpr(BinaryOp.And, left, ParseEquality());
        }

        return left;
    }

    private Expr ParseEquality()
    {
        Expr left = ParseComparison();
        while (true)
        {
            if (Accept("==")) left = new BinaryExpr(BinaryOp.Equal, left, ParseComparison());
            else if (Accept("!=")) left = new BinaryExpr(BinaryOp.NotEqual, left, ParseComparison());
            else return left;
        }
    }

    private Expr ParseComparison()
    {
        Expr left = ParseUnary();
        while (true)
        {
            if (Accept("<=")) left = new BinaryExpr(BinaryOp.LessOrEqual, left, ParseUnary());
            else if (Accept(">=")) left = new BinaryExpr(BinaryOp.GreaterOrEqual, left, ParseUnary());
            else if (Accept("<")) left = new BinaryExpr(BinaryOp.Less, left, ParseUnary());
            else if (Accept(">")) left = new BinaryExpr(BinaryOp.Greater, left, ParseUnary());
            else return left;
        }
    }

    private Expr ParseUnary()
    {
        if (Accept("!"))
        {
            Enter();
            Expr operand = ParseUnary();
            _depth--;
            return new NotExpr(operand);
        }

        return ParsePostfix(ParsePrimary());
    }

    private Expr ParsePostfix(Expr e)
    {
        while (true)
        {
            if (Accept("."))
            {
                Token name = Next();
                if (name.Kind == TokenKind.Identifier)
                {
                    e = new PropertyExpr(e, name.Text);
                }
                else if (name.Kind == TokenKind.Punct && name.Text == "*")
                {
                    e = new FilterExpr(e);
                }
                else
                {
                    _pos--;
                    throw Error("expected a property name after '.'");
                }
            }
            else if (Accept("["))
            {
                Enter();
                Expr key = ParseOr();
                _depth--;
                Expect("]");
                e = new IndexExpr(e, key);
            }
            else
            {
                return e;
            }
        }
    }

    private Expr ParsePrimary()
    {
        Token t = Peek;
        switch (t.Kind)
        {
            case TokenKind.Number:
            case TokenKind.String:
                _pos++;
                return new LiteralExpr(t.Value!);
            case TokenKind.Identifier:
                _pos++;
                switch (t.Text)
                {
                    case "true": return new LiteralExpr(ExprValue.True);
                    case "false": return new LiteralExpr(ExprValue.False);
                    case "null": return new LiteralExpr(ExprValue.Null);
                    case "NaN": return new LiteralExpr(ExprValue.Number(double.NaN));
                    case "Infinity": return new LiteralExpr(ExprValue.Number(double.PositiveInfinity));
                }

                if (Accept("("))
                {
                    Enter();
                    List<Expr> args = [];
                    if (!Accept(")"))
                    {
                        do
                        {
                            args.Add(ParseOr());
                        }
                        while (Accept(","));
                        Expect(")");
                    }

                    _depth--;
                    return new CallExpr(t.Text, args);
                }

                return new ContextExpr(t.Text);
            case TokenKind.Punct when t.Text == "(":
                _pos++;
                Enter();
                Expr inner = ParseOr();
                _depth--;
                Expect(")");
                return inner;
            case TokenKind.End:
                throw Error("the expression ended where a value was expected");
            default:
                throw Error($"unexpected '{t.Text}'");
        }
    }

    private void Enter()
    {
        if (++_depth > MaxDepth)
        {
            throw Error($"nesting deeper than {MaxDepth}");
        }
    }

    private static readonly string[] Puncts = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", "[", "]", ".", ",", "*"];

    private static List<Token> Lex(string text)
    {
        List<Token> tokens = [];
        int i = 0;
        while (true)
        {
            while (i < text.Length && char.IsWhiteSpace(text[i]))
            {
                i++;
            }

            int column = i + 1;
            if (i >= text.Length)
            {
                tokens.Add(new Token(TokenKind.End, "", column));
                return tokens;
            }

            char c = text[i];
            if (c == '\'')
            {
                var sb = new StringBuilder();
                i++;
                while (true)
                {
                    if (i >= text.Length)
                    {
                        throw new ExpressionException($"expression '{text}': the string starting at column {column} is not closed (strings use single quotes; '' is a quote)");
                    }

                    if (text[i] == '\'')
                    {
                        if (i + 1 < text.Length && text[i + 1] == '\'')
                        {
                            sb.Append('\'');
                            i += 2;
                            continue;
                        }

                        i++;
                        break;
                    }

                    sb.Append(text[i++]);
                }

                tokens.Add(new Token(TokenKind.String, text[(column - 1)..i], column, ExprValue.String(sb.ToString())));
                continue;
            }

            if (char.IsAsciiDigit(c) || (c is '-' or '+' && i + 1 < text.Length && (char.IsAsciiDigit(text[i + 1]) || text[i + 1] == '.')) ||
                (c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1]) && !PreviousIsValue(tokens)))
            {
                int start = i;
                i++;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '.' ||
                                           (text[i] is '-' or '+' && (text[i - 1] is 'e' or 'E') && !text[start..i].StartsWith("0x", StringComparison.OrdinalIgnoreCase))))
                {
                    i++;
                }

                string literal = text[start..i];
                double n = ExprValue.ParseNumber(literal);
                if (double.IsNaN(n))
                {
                    throw new ExpressionException($"expression '{text}': '{literal}' at column {column} is not a number");
                }

                tokens.Add(new Token(TokenKind.Number, literal, column, ExprValue.Number(n)));
                continue;
            }

            if (char.IsAsciiLetter(c) || c == '_')
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] is '_' or '-'))
                {
                    i++;
                }

                tokens.Add(new Token(TokenKind.Identifier, text[start..i], column));
                continue;
            }

            string? punct = Puncts.FirstOrDefault(p => string.CompareOrdinal(text, i, p, 0, p.Length) == 0);
            if (punct is null)
            {
                string hint = c == '"' ? " (strings use single quotes)" : c == '=' ? " (comparison is ==)" : "";
                throw new ExpressionException($"expression '{text}': unexpected character '{c}' at column {column}{hint}");
            }

            tokens.Add(new Token(TokenKind.Punct, punct, column));
            i += punct.Length;
        }
    }

    private static bool PreviousIsValue(List<Token> tokens) =>
        tokens.Count > 0 && tokens[^1] is { } t && (t.Kind is TokenKind.Identifier or TokenKind.Number or TokenKind.String || t.Text is ")" or "]");
}
