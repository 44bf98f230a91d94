namespace Kindling.Benchmarks.Reporting;

/// <summary>Order statistics of a sample (nearest rank), the figures every suite reports.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyCollection<double> xs) => Quantile(xs, 0.5);

    public static double P90(IReadOnlyCollection<double> xs) => Quantile(xs, 0.9);

    /// <summary>Nearest-rank quantile; the median of an even sample is the mean of the middle two.</summary>
    public static double Quantile(IReadOnlyCollection<double> xs, double q)
    {
        if (xs.Count == 0)
        {
            return double.NaN;
        }

        double[] sorted = [.. xs.Order()];
        if (q == 0.5 && sorted.Length % 2 == 0)
        {
            return (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        int rank = (int)Math.Ceiling(q * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }
}
