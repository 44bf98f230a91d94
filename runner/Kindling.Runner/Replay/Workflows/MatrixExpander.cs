using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay.Workflows;

/// <summary>One matrix combination: keys in order (axes first, then keys include added).</summary>
public sealed record MatrixCombination(IReadOnlyList<KeyValuePair<string, ExprValue>> Values)
{
    public static MatrixCombination Empty { get; } = new([]);

    public ExprValue? this[string key] => Values.FirstOrDefault(kv => kv.Key == key).Value;

    public bool IsEmpty => Values.Count == 0;

    /// <summary><c>key=value, key=value</c>, for messages and listings.</summary>
    public override string ToString() => string.Join(", ", Values.Select(kv => $"{kv.Key}={kv.Value.ToString()}"));

    public ExprValue ToContext() => ExprValue.Object(Values);
}

/// <summary>
/// GitHub's matrix rules: the cartesian product of the axes (in file order), minus every combination matching an
/// <c>exclude</c> entry on all the entry's keys; then each <c>include</c> entry is added to every original
/// combination it does not contradict (it may only overwrite keys include added), or, matching none, becomes a
/// combination of its own. <c>--matrix key:value</c> filters then keep combinations whose value of each filtered
/// key is one of the given values (act's semantics).
/// </summary>
public static class MatrixExpander
{
    /// <summary>GitHub's limit on combinations per job.</summary>
    public const int MaxCombinations = 256;

    public static IReadOnlyList<MatrixCombination> Expand(IReadOnlyList<MatrixAxis> axes,
        IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> include,
        IReadOnlyList<IReadOnlyList<KeyValuePair<string, ExprValue>>> exclude, string where)
    {
        List<List<KeyValuePair<string, ExprValue>>> combos = axes.Count == 0 ? [] : [[]];
        foreach (MatrixAxis axis in axes)
        {
            combos = [.. combos.SelectMany(c => axis.Values.Select(v => new List<KeyValuePair<string, ExprValue>>(c) { KeyValuePair.Create(axis.Key, v) }))];
            if (combos.Count > MaxCombinations * MaxCombinations)
            {
                break;
            }
        }

        foreach (IReadOnlyList<KeyValuePair<string, ExprValue>> ex in exclude)
        {
            combos.RemoveAll(c => ex.All(kv => c.Any(cv => cv.Key == kv.Key && DeepEquals(cv.Value, kv.Value))));
        }

        HashSet<string> originalKeys = [.. axes.Select(a => a.Key)];
        int originals = combos.Count;
        foreach (IReadOnlyList<KeyValuePair<string, ExprValue>> inc in include)
        {
            bool matched = false;
            for (int i = 0; i < originals; i++)
            {
                List<KeyValuePair<string, ExprValue>> c = combos[i];
                bool contradicts = inc.Any(kv => originalKeys.Contains(kv.Key) && !DeepEquals(c.First(cv => cv.Key == kv.Key).Value, kv.Value));
                if (contradicts)
                {
                    continue;
                }

                matched = true;
                foreach (KeyValuePair<string, ExprValue> kv in inc.Where(kv => !originalKeys.Contains(kv.Key)))
                {
                    int at = c.FindIndex(cv => cv.Key == kv.Key);
                    if (at >= 0)
                    {
                        c[at] = kv;
                    }
                    else
                    {
                        c.Add(kv);
                    }
                }
            }

            if (!matched)
            {
                combos.Add([.. inc]);
            }
        }

        if (combos.Count == 0)
        {
            string why = axes.Any(a => a.Values.Count == 0)
                ? $"the key '{axes.First(a => a.Values.Count == 0).Key}' has no values"
                : "exclude removes every combination and include adds none";
            throw new MatrixException($"{where}: the matrix expands to no combinations ({why}); fix strategy.matrix");
        }

        if (combos.Count > MaxCombinations)
        {
            throw new MatrixException($"{where}: the matrix expands to {combos.Count} combinations; GitHub allows at most {MaxCombinations}");
        }

        return [.. combos.Select(c => new MatrixCombination(c))];
    }

    /// <summary>
    /// Keeps combinations whose value of every filtered key is one of the given values (a combination without the
    /// key is kept, and a key the job's matrix does not have is ignored, as act does: one --matrix serves every job of
    /// a run). A filter that keeps nothing is an error naming what exists; <see cref="UnknownKeys"/> names the ignored keys.
    /// </summary>
    public static IReadOnlyList<MatrixCombination> Filter(IReadOnlyList<MatrixCombination> combos, IReadOnlyList<KeyValuePair<string, string>> filters, string where)
    {
        if (filters.Count == 0)
        {
            return combos;
        }

        Dictionary<string, HashSet<string>> allowed = [];
        foreach ((string k, string v) in filters)
        {
            if (!allowed.TryGetValue(k, out HashSet<string>? set))
            {
                allowed[k] = set = new HashSet<string>(StringComparer.Ordinal);
            }

            set.Add(v);
        }

        string[] keys = [.. combos.SelectMany(c => c.Values.Select(kv => kv.Key)).Distinct()];
        foreach (string k in allowed.Keys.Where(k => !keys.Contains(k)).ToList())
        {
            allowed.Remove(k);
        }

        List<MatrixCombination> kept = [.. combos.Where(c => c.Values.All(kv => !allowed.TryGetValue(kv.Key, out HashSet<string>? ok) || ok.Contains(kv.Value.ToString())))];
        if (kept.Count == 0)
        {
            throw new MatrixException(
                $"{where}: --matrix {string.Join(" --matrix ", filters.Select(f => $"{f.Key}:{f.Value}"))} matches none of the {combos.Count} combinations: " +
                string.Join("; ", combos.Select(c => c.ToString())));
        }

        return kept;
    }

    /// <summary>The --matrix keys that no combination has (ignored by <see cref="Filter"/>; the planner warns).</summary>
    public static IReadOnlyList<string> UnknownKeys(IReadOnlyList<MatrixCombination> combos, IReadOnlyList<KeyValuePair<string, string>> filters) =>
        [.. filters.Select(f => f.Key).Distinct().Where(k => !combos.Any(c => c.Values.Any(kv => kv.Key == k)))];

    /// <summary>Matrix values compare like GitHub's: scalars loosely (strings ignoring case), lists and mappings member by member.</summary>
    public static bool DeepEquals(ExprValue a, ExprValue b)
    {
        if (a.Kind == ExprKind.Array && b.Kind == ExprKind.Array)
        {
            return a.Items.Count == b.Items.Count && a.Items.Zip(b.Items).All(p => DeepEquals(p.First, p.Second));
        }

        if (a.Kind == ExprKind.Object && b.Kind == ExprKind.Object)
        {
            return a.Members.Count == b.Members.Count &&
                   a.Members.All(kv => b.Members.TryGetValue(kv.Key, out ExprValue? bv) && DeepEquals(kv.Value, bv));
        }

        return a.Kind == b.Kind && ExprEvaluator.LooseEquals(a, b);
    }
}

/// <summary>A matrix that expands to nothing or that a filter empties; the message lists what exists.</summary>
public sealed class MatrixException(string message) : Exception(message);
