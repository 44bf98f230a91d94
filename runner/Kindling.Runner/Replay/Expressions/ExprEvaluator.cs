using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Kindling.Runner.Replay.Expressions;

/// <summary>
/// Evaluates parsed expressions with GitHub's semantics: loose equality (values of different kinds are compared as
/// numbers; strings case-insensitively), <c>&amp;&amp;</c>/<c>||</c> returning an operand, missing properties as null,
/// and the functions contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles and the status functions.
/// Values read from secrets stay marked as secret through every operation that could carry their text.
/// </summary>
public static class ExprEvaluator
{
    public static ExprValue Evaluate(string text, ExprContext ctx) => Evaluate(ExprParser.Parse(text), ctx);

    public static ExprValue Evaluate(Expr e, ExprContext ctx) => e switch
    {
        LiteralExpr l => l.Value,
        ContextExpr c => Context(c.Name, ctx),
        PropertyExpr p when IsFiltered(p.Target) => Each(Evaluate(p.Target, ctx), item => Member(item, p.Name)),
        PropertyExpr p => Member(Evaluate(p.Target, ctx), p.Name),
        IndexExpr i when IsFiltered(i.Target) => Each(Evaluate(i.Target, ctx), item => Index(item, Evaluate(i.Key, ctx))),
        IndexExpr i => Index(Evaluate(i.Target, ctx), Evaluate(i.Key, ctx)),
        FilterExpr f when IsFiltered(f.Target) => ExprValue.Array([.. Evaluate(f.Target, ctx).Items.SelectMany(Values)]),
        FilterExpr f => ExprValue.Array(Values(Evaluate(f.Target, ctx))),
        NotExpr n => ExprValue.Bool(!Evaluate(n.Operand, ctx).IsTruthy),
        BinaryExpr { Op: BinaryOp.And } b => Evaluate(b.Left, ctx) is { IsTruthy: false } l ? l : Evaluate(b.Right, ctx),
        BinaryExpr { Op: BinaryOp.Or } b => Evaluate(b.Left, ctx) is { IsTruthy: true } l ? l : Evaluate(b.Right, ctx),
        BinaryExpr b => ExprValue.Bool(Compare(b.Op, Evaluate(b.Left, ctx), Evaluate(b.Right, ctx))),
        CallExpr c => Call(c, ctx),
        _ => throw new ExpressionException($"{ctx.Where}: unknown expression node {e.GetType().Name}"),
    };

    /// <summary>Whether an expression's value is a filtered list (a <c>.*</c> earlier in its chain of properties).</summary>
    private static bool IsFiltered(Expr e) => e switch
    {
        FilterExpr => true,
        PropertyExpr p => IsFiltered(p.Target),
        IndexExpr i => IsFiltered(i.Target),
        _ => false,
    };

    /// <summary>What <c>.*</c> yields for one value: an object's values, a list's items, nothing for a scalar.</summary>
    private static IReadOnlyList<ExprValue> Values(ExprValue v) => v.Kind switch
    {
        ExprKind.Object => [.. v.Members.Values],
        ExprKind.Array => v.Items,
        _ => [],
    };

    /// <summary>A property or index applied to each item of a filtered list; items without it are left out, as GitHub does.</summary>
    private static ExprValue Each(ExprValue filtered, Func<ExprValue, ExprValue> select) =>
        ExprValue.Array([.. filtered.Items.Where(i => i.Kind is ExprKind.Object or ExprKind.Array).Select(select).Where(v => v.Kind != ExprKind.Null)]);

    /// <summary>GitHub's loose equality.</summary>
    public static bool LooseEquals(ExprValue a, ExprValue b)
    {
        if (a.Kind != b.Kind)
        {
            return a.ToNumber() == b.ToNumber(); // NaN never equals anything
        }

        return a.Kind switch
        {
            ExprKind.Null => true,
            ExprKind.Boolean => a.AsBoolean == b.AsBoolean,
            ExprKind.Number => a.AsNumber == b.AsNumber,
            ExprKind.String => string.Equals(a.AsString, b.AsString, StringComparison.OrdinalIgnoreCase),
            _ => ReferenceEquals(a, b),
        };
    }

    private static ExprValue Context(string name, ExprContext ctx)
    {
        if (ctx.Contexts.TryGetValue(name, out ExprValue? v))
        {
            return v;
        }

        if (ctx.Unavailable.TryGetValue(name, out string? why))
        {
            throw new ExpressionException($"{ctx.Where}: the '{name}' context is not available: {why}");
        }

        string known = string.Join(", ", ctx.Contexts.Keys.Order(StringComparer.Ordinal));
        throw new ExpressionException($"{ctx.Where}: unknown name '{name}' (contexts here: {known}; strings are written in single quotes)");
    }

    private static ExprValue Member(ExprValue target, string name) =>
        target.Kind == ExprKind.Object && target.Members.TryGetValue(name, out ExprValue? v) ? v : ExprValue.Null;

    private static ExprValue Index(ExprValue target, ExprValue key)
    {
        switch (target.Kind)
        {
            case ExprKind.Object:
                return Member(target, key.ToString());
            case ExprKind.Array:
                double n = key.ToNumber();
                return n >= 0 && n < target.Items.Count && n == Math.Floor(n) ? target.Items[(int)n] : ExprValue.Null;
            default:
                return ExprValue.Null;
        }
    }

    private static bool Compare(BinaryOp op, ExprValue a, ExprValue b)
    {
        if (op == BinaryOp.Equal)
        {
            return LooseEquals(a, b);
        }

        if (op == BinaryOp.NotEqual)
        {
            return !LooseEquals(a, b);
        }

        int? order;
        if (a.Kind == ExprKind.String && b.Kind == ExprKind.String)
        {
            order = string.Compare(a.AsString, b.AsString, StringComparison.OrdinalIgnoreCase);
        }
        else if (a.Kind is ExprKind.Array or ExprKind.Object || b.Kind is ExprKind.Array or ExprKind.Object)
        {
            order = null;
        }
        else
        {
            double x = a.ToNumber(), y = b.ToNumber();
            order = double.IsNaN(x) || double.IsNaN(y) ? null : x.CompareTo(y);
        }

        return order is { } o && op switch
        {
            BinaryOp.Less => o < 0,
            BinaryOp.LessOrEqual => o <= 0,
            BinaryOp.Greater => o > 0,
            _ => o >= 0,
        };
    }

    private static ExprValue Call(CallExpr c, ExprContext ctx)
    {
        string name = c.Name.ToLowerInvariant();
        if (ExprTree.StatusFunctions.Contains(name))
        {
            Arity(c, ctx, 0, 0);
            if (ctx.JobFailed is not { } failed)
            {
                throw new ExpressionException($"{ctx.Where}: {c.Name}() can only be used in if:");
            }

            return ExprValue.Bool(name switch
            {
                "success" => !failed && !ctx.JobCancelled,
                "failure" => failed && !ctx.JobCancelled,
                "always" => true,
                _ => ctx.JobCancelled, // cancelled(): only at step time, after the job was cancelled (ReplayStepSource)
            });
        }

        ExprValue[] args = [.. c.Arguments.Select(a => Evaluate(a, ctx))];
        bool secret = args.Any(a => a.IsSecret);
        switch (name)
        {
            case "hashfiles":
                Arity(c, ctx, 1, int.MaxValue);
                if (ctx.HashFiles is not { } hash)
                {
                    throw new ExpressionException($"{ctx.Where}: hashFiles() is only available in a job's steps");
                }

                try
                {
                    return Taint(ExprValue.String(hash([.. args.Select(a => a.ToString())])), secret);
                }
                catch (ReplayException e)
                {
                    throw new ExpressionException($"{ctx.Where}: {e.Message}");
                }

            case "contains":
                Arity(c, ctx, 2, 2);
                return ExprValue.Bool(args[0].Kind == ExprKind.Array
                    ? args[0].Items.Any(i => LooseEquals(i, args[1]))
                    : args[0].ToString().Contains(args[1].ToString(), StringComparison.OrdinalIgnoreCase));
            case "startswith":
                Arity(c, ctx, 2, 2);
                return ExprValue.Bool(args[0].ToString().StartsWith(args[1].ToString(), StringComparison.OrdinalIgnoreCase));
            case "endswith":
                Arity(c, ctx, 2, 2);
                return ExprValue.Bool(args[0].ToString().EndsWith(args[1].ToString(), StringComparison.OrdinalIgnoreCase));
            case "format":
                Arity(c, ctx, 1, int.MaxValue);
                return Taint(ExprValue.String(Format(args[0].ToString(), args[1..], ctx)), secret);
            case "join":
                Arity(c, ctx, 1, 2);
                string sep = args.Length > 1 ? args[1].ToString() : ",";
                return Taint(ExprValue.String(args[0].Kind == ExprKind.Array
                    ? string.Join(sep, args[0].Items.Select(i => i.ToString()))
                    : args[0].ToString()), secret);
            case "tojson":
                Arity(c, ctx, 1, 1);
                return Taint(ExprValue.String(args[0].ToJson()), secret);
            case "fromjson":
                Arity(c, ctx, 1, 1);
                try
                {
                    return Taint(ExprValue.FromJson(JsonNode.Parse(args[0].ToString())), secret);
                }
                catch (JsonException e)
                {
                    throw new ExpressionException($"{ctx.Where}: fromJSON(): {(secret ? "a secret" : args[0].Describe())} is not JSON ({e.Message})");
                }

            default:
                throw new ExpressionException(
                    $"{ctx.Where}: unknown function {c.Name}() (known: contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, success, failure, always, cancelled)");
        }
    }

    private static ExprValue Taint(ExprValue v, bool secret) => secret ? v.AsOpaqueSecret() : v;

    private static void Arity(CallExpr c, ExprContext ctx, int min, int max)
    {
        if (c.Arguments.Count < min || c.Arguments.Count > max)
        {
            string expected = min == max ? $"{min}" : max == int.MaxValue ? $"at least {min}" : $"{min} to {max}";
            throw new ExpressionException($"{ctx.Where}: {c.Name}() takes {expected} argument(s), not {c.Arguments.Count}");
        }
    }

    /// <summary>GitHub's format(): <c>{N}</c> is argument N, <c>{{</c> and <c>}}</c> are braces.</summary>
    private static string Format(string format, ExprValue[] args, ExprContext ctx)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            char ch = format[i];
            if (ch == '{' && i + 1 < format.Length && format[i + 1] == '{')
            {
                sb.Append('{');
                i++;
            }
            else if (ch == '}' && i + 1 < format.Length && format[i + 1] == '}')
            {
                sb.Append('}');
                i++;
            }
            else if (ch == '{')
            {
                int end = format.IndexOf('}', i);
                if (end < 0 || !int.TryParse(format.AsSpan(i + 1, end - i - 1), System.Globalization.NumberStyles.None,
                        System.Globalization.CultureInfo.InvariantCulture, out int n))
                {
                    throw new ExpressionException($"{ctx.Where}: format(): '{format}' has a '{{' at {i} that is not {{N}} (write {{{{ for a brace)");
                }

                if (n >= args.Length)
                {
                    throw new ExpressionException($"{ctx.Where}: format(): '{format}' uses {{{n}}} but only {args.Length} argument(s) follow");
                }

                sb.Append(args[n].ToString());
                i = end;
            }
            else if (ch == '}')
            {
                throw new ExpressionException($"{ctx.Where}: format(): '{format}' has a lone '}}' at {i} (write }}}} for a brace)");
            }
            else
            {
                sb.Append(ch);
            }
        }

        return sb.ToString();
    }
}
