namespace Kindling.Runner.Replay.Expressions;

/// <summary>A node of a parsed expression.</summary>
public abstract record Expr;

public sealed record LiteralExpr(ExprValue Value) : Expr;

/// <summary>A top-level name: a context (<c>github</c>, <c>env</c>, <c>matrix</c>, …).</summary>
public sealed record ContextExpr(string Name) : Expr;

/// <summary><c>target.name</c>.</summary>
public sealed record PropertyExpr(Expr Target, string Name) : Expr;

/// <summary><c>target[key]</c>.</summary>
public sealed record IndexExpr(Expr Target, Expr Key) : Expr;

/// <summary>
/// <c>target.*</c>, GitHub's object filter: the values of an object (or the items of a list) as a list, and every
/// property or index applied after it is applied to each item (<c>needs.*.result</c> is the list of the results).
/// </summary>
public sealed record FilterExpr(Expr Target) : Expr;

public sealed record NotExpr(Expr Operand) : Expr;

public enum BinaryOp
{
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
}

public sealed record BinaryExpr(BinaryOp Op, Expr Left, Expr Right) : Expr;

/// <summary><c>name(args…)</c>; names are case-insensitive.</summary>
public sealed record CallExpr(string Name, IReadOnlyList<Expr> Arguments) : Expr;

/// <summary>Walks of the tree.</summary>
public static class ExprTree
{
    /// <summary>The status functions of <c>if:</c>.</summary>
    public static readonly string[] StatusFunctions = ["success", "failure", "always", "cancelled"];

    public static IEnumerable<Expr> Descendants(Expr e)
    {
        yield return e;
        IEnumerable<Expr> children = e switch
        {
            PropertyExpr p => [p.Target],
            IndexExpr i => [i.Target, i.Key],
            FilterExpr f => [f.Target],
            NotExpr n => [n.Operand],
            BinaryExpr b => [b.Left, b.Right],
            CallExpr c => c.Arguments,
            _ => [],
        };
        foreach (Expr c in children)
        {
            foreach (Expr d in Descendants(c))
            {
                yield return d;
            }
        }
    }

    public static bool CallsStatusFunction(Expr e) =>
        Descendants(e).OfType<CallExpr>().Any(c => StatusFunctions.Contains(c.Name, StringComparer.OrdinalIgnoreCase));

    /// <summary>The contexts an expression reads (lower case).</summary>
    public static IReadOnlySet<string> Contexts(Expr e) =>
        Descendants(e).OfType<ContextExpr>().Select(c => c.Name.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The secret names read with a literal name (<c>secrets.NAME</c>, <c>secrets['NAME']</c>); a computed name
    /// (<c>secrets[matrix.key]</c>) is reported as null.
    /// </summary>
    public static IEnumerable<string?> SecretNames(Expr e)
    {
        foreach (Expr d in Descendants(e))
        {
            switch (d)
            {
                case PropertyExpr { Target: ContextExpr c } p when IsSecrets(c):
                    yield return p.Name;
                    break;
                case IndexExpr { Target: ContextExpr c } i when IsSecrets(c):
                    yield return i.Key is LiteralExpr { Value.Kind: ExprKind.String } l ? l.Value.AsString : null;
                    break;
            }
        }
    }

    private static bool IsSecrets(ContextExpr c) => c.Name.Equals("secrets", StringComparison.OrdinalIgnoreCase);
}
