namespace Kindling.Testing.Architecture;

/// <summary>
/// The dependency graph between the top-level folders (namespaces one below the project's root namespace, nested
/// namespaces folded in) of one assembly, built from <see cref="TypeDependencies"/>, and its cycles.
/// </summary>
public sealed class FolderGraph
{
    private readonly Dictionary<string, SortedDictionary<string, string>> _edges = new(StringComparer.Ordinal);

    /// <summary>Builds the graph of the folders under <paramref name="rootNamespace"/>; types directly in the root
    /// namespace and references outside it are left out.</summary>
    public FolderGraph(TypeDependencies dependencies, string rootNamespace)
    {
        ArgumentNullException.ThrowIfNull(dependencies);
        ArgumentNullException.ThrowIfNull(rootNamespace);
        foreach (var (type, references) in dependencies.References.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var from = FolderOf(type, rootNamespace);
            if (from is null)
            {
                continue;
            }

            foreach (var reference in references.Order(StringComparer.Ordinal))
            {
                var to = FolderOf(reference, rootNamespace);
                if (to is null || to == from)
                {
                    continue;
                }

                if (!_edges.TryGetValue(from, out var targets))
                {
                    targets = new SortedDictionary<string, string>(StringComparer.Ordinal);
                    _edges[from] = targets;
                }

                // The first (by name) type reference that makes the edge, to name it in messages.
                targets.TryAdd(to, $"{type} -> {reference}");
            }
        }
    }

    /// <summary>The folder of a full type name below <paramref name="rootNamespace"/>, or null when outside it or
    /// directly in it.</summary>
    public static string? FolderOf(string fullName, string rootNamespace)
    {
        var ns = TypeDependencies.NamespaceOf(fullName);
        if (!ns.StartsWith(rootNamespace + ".", StringComparison.Ordinal))
        {
            return null;
        }

        var rest = ns[(rootNamespace.Length + 1)..];
        var dot = rest.IndexOf('.', StringComparison.Ordinal);
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>True when a type of <paramref name="from"/> refers to a type of <paramref name="to"/>.</summary>
    public bool HasEdge(string from, string to) => _edges.TryGetValue(from, out var t) && t.ContainsKey(to);

    /// <summary>A type reference that makes the edge, "Type -> Referenced".</summary>
    public string Example(string from, string to) => _edges[from][to];

    /// <summary>Every folder pair that refers both ways, "A <-> B" with A before B by name, sorted.</summary>
    public IReadOnlyList<string> MutualPairs() =>
        _edges.SelectMany(p => p.Value.Keys.Where(to => string.CompareOrdinal(p.Key, to) < 0 && HasEdge(to, p.Key))
                .Select(to => $"{p.Key} <-> {to}"))
            .Order(StringComparer.Ordinal)
            .ToArray();

    /// <summary>Each strongly connected group of two or more folders (every cycle lies inside one), its members
    /// sorted and joined by ", "; the groups sorted.</summary>
    public IReadOnlyList<string> CyclicGroups()
    {
        // Tarjan's algorithm; the graph has a few dozen nodes, so recursion depth is no concern.
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var low = new Dictionary<string, int>(StringComparer.Ordinal);
        var stack = new Stack<string>();
        var onStack = new HashSet<string>(StringComparer.Ordinal);
        var groups = new List<string>();
        var nodes = _edges.Keys.Concat(_edges.Values.SelectMany(v => v.Keys)).Distinct().Order(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            if (!index.ContainsKey(node))
            {
                Visit(node);
            }
        }

        return groups.Order(StringComparer.Ordinal).ToArray();

        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in _edges.TryGetValue(v, out var t) ? t.Keys : Enumerable.Empty<string>())
            {
                if (!index.TryGetValue(w, out var wIndex))
                {
                    Visit(w);
                    low[v] = Math.Min(low[v], low[w]);
                }
                else if (onStack.Contains(w))
                {
                    low[v] = Math.Min(low[v], wIndex);
                }
            }

            if (low[v] == index[v])
            {
                var members = new List<string>();
                string w;
                do
                {
                    w = stack.Pop();
                    onStack.Remove(w);
                    members.Add(w);
                }
                while (w != v);
                if (members.Count > 1)
                {
                    groups.Add(string.Join(", ", members.Order(StringComparer.Ordinal)));
                }
            }
        }
    }

    /// <summary>Every edge that lies on a cycle (both ends in one cyclic group), "A -> B", sorted.</summary>
    public IReadOnlyList<string> CyclicEdges()
    {
        var groups = CyclicGroups().Select(g => g.Split(", ").ToHashSet(StringComparer.Ordinal)).ToArray();
        return _edges
            .SelectMany(p => p.Value.Keys.Where(to => groups.Any(g => g.Contains(p.Key) && g.Contains(to))).Select(to => $"{p.Key} -> {to}"))
            .Order(StringComparer.Ordinal)
            .ToArray();
    }

    /// <summary>The edges inside cyclic groups, each with the type reference that makes it, one per line.</summary>
    public string DescribeCycles()
    {
        var groups = CyclicGroups().Select(g => g.Split(", ").ToHashSet(StringComparer.Ordinal)).ToArray();
        return string.Join('\n', _edges
            .SelectMany(p => p.Value.Where(e => groups.Any(g => g.Contains(p.Key) && g.Contains(e.Key)))
                .Select(e => $"  {p.Key} -> {e.Key}  ({e.Value})"))
            .Order(StringComparer.Ordinal));
    }
}
