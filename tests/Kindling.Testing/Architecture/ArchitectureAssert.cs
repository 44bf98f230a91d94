using Xunit;

namespace Kindling.Testing.Architecture;

/// <summary>Assertions for the layering tests; each failure names the referring and the referred-to type.</summary>
public static class ArchitectureAssert
{
    /// <summary>No type in <paramref name="from"/> refers to a type in <paramref name="to"/>.</summary>
    public static void NoReferences(TypeDependencies dependencies, string[] from, string[] to, string why) =>
        KnownReferences(dependencies, from, to, [], why);

    /// <summary>
    /// The references from <paramref name="from"/> to <paramref name="to"/> are exactly <paramref name="allowed"/>
    /// ("Type -> Referenced"): a new one fails, and so does a listed one that is gone, so the list only shrinks.
    /// </summary>
    public static void KnownReferences(TypeDependencies dependencies, string[] from, string[] to, string[] allowed, string why)
    {
        ArgumentNullException.ThrowIfNull(dependencies);
        var edges = dependencies.Edges(from, to);
        var added = edges.Except(allowed, StringComparer.Ordinal).ToArray();
        var gone = allowed.Except(edges, StringComparer.Ordinal).ToArray();
        if (added.Length > 0 || gone.Length > 0)
        {
            Assert.Fail(
                $"{string.Join(", ", from.Select(f => f.Length == 0 ? dependencies.AssemblyName : f))} must not reference {string.Join(", ", to)} ({why})." +
                (added.Length > 0 ? $"\nfound {added.Length}:\n  {string.Join("\n  ", added)}" : "") +
                (gone.Length > 0 ? $"\nlisted as known but gone, remove from the list:\n  {string.Join("\n  ", gone)}" : ""));
        }
    }

    /// <summary>
    /// The folder edges that lie on a cycle are exactly <paramref name="allowedCyclicEdges"/> ("A -> B"): a new
    /// cycle fails, and so does a listed edge that is gone or no longer on a cycle, so the list only shrinks.
    /// </summary>
    public static void KnownCycles(FolderGraph graph, string[] allowedCyclicEdges, string why)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var edges = graph.CyclicEdges();
        var added = edges.Except(allowedCyclicEdges, StringComparer.Ordinal).ToArray();
        var gone = allowedCyclicEdges.Except(edges, StringComparer.Ordinal).ToArray();
        if (added.Length > 0 || gone.Length > 0)
        {
            Assert.Fail(
                $"folder cycles changed ({why})." +
                (added.Length > 0 ? $"\nnew edges on a cycle:\n  {string.Join("\n  ", added)}" : "") +
                (gone.Length > 0 ? $"\nno longer on a cycle, remove from the list:\n  {string.Join("\n  ", gone)}" : "") +
                $"\ncyclic groups: {string.Join("; ", graph.CyclicGroups().Select(g => $"[{g}]"))}" +
                $"\nmutual pairs: {string.Join(", ", graph.MutualPairs())}" +
                $"\nedges on cycles, with a type reference that makes each:\n{graph.DescribeCycles()}");
        }
    }
}
