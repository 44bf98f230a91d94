using Kindling.Runner.Configuration;

namespace Kindling.Runner.Jobs;

/// <summary>A job is ours when one pool offers every one of its runs-on labels (case-insensitive, as GitHub).</summary>
public static class LabelMatcher
{
    public static PoolOptions? Match(IReadOnlyList<string> jobLabels, IEnumerable<PoolOptions> pools) =>
        jobLabels.Count == 0
            ? null
            : pools.FirstOrDefault(p => jobLabels.All(l => p.Labels.Contains(l, StringComparer.OrdinalIgnoreCase)));
}
