using Kindling.Runner.Jobs;

namespace Kindling.Runner.Replay.Expressions;

/// <summary>One piece of a string with <c>${{ }}</c> interpolations: literal text, or an expression.</summary>
public sealed record TemplatePart(string? Text, Expr? Expression, string? Source);

/// <summary>
/// Strings with <c>${{ expression }}</c> interpolations, as GitHub workflows write them. A value that is one
/// interpolation and nothing else keeps its type (a matrix list, a boolean for continue-on-error); anything else is
/// text. A <c>}}</c> inside a quoted string does not end the expression.
/// </summary>
public static class Template
{
    public const string Open = "${{";
    public const string Close = "}}";

    public static bool HasExpressions(string s) => s.Contains(Open, StringComparison.Ordinal);

    public static IReadOnlyList<TemplatePart> Parse(string s, string where)
    {
        List<TemplatePart> parts = [];
        int i = 0;
        while (i < s.Length)
        {
            int open = s.IndexOf(Open, i, StringComparison.Ordinal);
            if (open < 0)
            {
                parts.Add(new TemplatePart(s[i..], null, null));
                break;
            }

            if (open > i)
            {
                parts.Add(new TemplatePart(s[i..open], null, null));
            }

            int close = FindClose(s, open + Open.Length);
            if (close < 0)
            {
                throw new ExpressionException($"{where}: '{Excerpt(s, open)}' opens ${{{{ without a closing }}}}");
            }

            string source = s[(open + Open.Length)..close].Trim();
            try
            {
                parts.Add(new TemplatePart(null, ExprParser.Parse(source), source));
            }
            catch (ExpressionException e)
            {
                throw new ExpressionException($"{where}: {e.Message}");
            }

            i = close + Close.Length;
        }

        return parts;
    }

    /// <summary>The expression of an <c>if:</c>: written bare or wrapped in <c>${{ }}</c>.</summary>
    public static Expr ParseCondition(string condition, string where)
    {
        string c = condition.Trim();
        if (c.StartsWith(Open, StringComparison.Ordinal) && c.EndsWith(Close, StringComparison.Ordinal) && FindClose(c, Open.Length) == c.Length - Close.Length)
        {
            c = c[Open.Length..^Close.Length];
        }

        else if (HasExpressions(c))
        {
            return AsFormat(Parse(c, where));
        }

        try
        {
            return ExprParser.Parse(c.Trim());
        }
        catch (ExpressionException e)
        {
            throw new ExpressionException($"{where}: {e.Message}");
        }
    }

    /// <summary>
    /// An <c>if:</c> with text around its <c>${{ }}</c> (<c>${{ false }} || true</c>) is, as on GitHub, a string
    /// template: <c>format('{0} || true', false)</c>, whose value (a non-empty string) is true.
    /// </summary>
    private static CallExpr AsFormat(IReadOnlyList<TemplatePart> parts)
    {
        var format = new System.Text.StringBuilder();
        List<Expr> args = [];
        foreach (TemplatePart p in parts)
        {
            if (p.Expression is { } e)
            {
                format.Append('{').Append(args.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append('}');
                args.Add(e);
            }
            else
            {
                format.Append(p.Text!.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal));
            }
        }

        return new CallExpr("format", [new LiteralExpr(ExprValue.String(format.ToString())), .. args]);
    }

    /// <summary>Evaluates a template: a lone interpolation keeps its value's type; otherwise the parts are joined as text.</summary>
    public static ExprValue Evaluate(string s, ExprContext ctx)
    {
        string trimmed = s.Trim();
        if (trimmed.StartsWith(Open, StringComparison.Ordinal) && Parse(trimmed, ctx.Where) is [{ Expression: { } only }])
        {
            return ExprEvaluator.Evaluate(only, ctx);
        }

        IReadOnlyList<TemplatePart> parts = Parse(s, ctx.Where);

        List<string> text = [];
        List<SecretPart>? recipe = [];
        bool secret = false;
        foreach (TemplatePart p in parts)
        {
            if (p.Expression is null)
            {
                text.Add(p.Text!);
                recipe?.Add(SecretPart.FromText(p.Text!));
                continue;
            }

            ExprValue v = ExprEvaluator.Evaluate(p.Expression, ctx);
            text.Add(v.ToString());
            if (v.IsSecret)
            {
                secret = true;
                if (v.SecretParts is null)
                {
                    recipe = null;
                }
                else
                {
                    recipe?.AddRange(v.SecretParts);
                }
            }
            else
            {
                recipe?.Add(SecretPart.FromText(v.ToString()));
            }
        }

        string joined = ExprValue.Join(text);
        return secret ? ExprValue.SecretString(joined, recipe is null ? null : SecretPart.Merge(recipe)) : ExprValue.String(joined);
    }

    private static int FindClose(string s, int from)
    {
        bool quoted = false;
        for (int i = from; i < s.Length; i++)
        {
            if (s[i] == '\'')
            {
                quoted = !quoted; // '' inside a string toggles twice: still inside
            }
            else if (!quoted && s[i] == '}' && i + 1 < s.Length && s[i + 1] == '}')
            {
                return i;
            }
        }

        return -1;
    }

    private static string Excerpt(string s, int at)
    {
        const int ExcerptLength = 40;
        string e = s[at..].Split('\n')[0];
        return e.Length > ExcerptLength ? e[..ExcerptLength] + "…" : e;
    }
}
