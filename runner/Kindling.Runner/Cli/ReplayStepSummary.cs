using System.Globalization;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Cli;

/// <summary>
/// The steps part of <c>kindling replay</c>'s summary: one line a step, with its outcome and how long it took (the
/// guest's measure), and the job's total, so a slow step stands out without reading the log.
/// </summary>
public static class ReplayStepSummary
{
    public static IEnumerable<string> Lines(IReadOnlyList<StepRecord> steps)
    {
        if (steps.Count == 0)
        {
            yield break;
        }

        int width = Math.Min(40, steps.Max(s => s.Name.Length));
        yield return "steps:";
        foreach (StepRecord s in steps)
        {
            string outcome = s.Outcome ?? (s.Skipped ? StepResults.Skipped : s.ExitCode is null ? "stopped" : s.ExitCode == 0 ? StepResults.Success : StepResults.Failure);
            string exit = s.ExitCode is { } e and not 0 ? $" (exit {e})" : "";
            string took = s.Seconds is { } sec ? Seconds(sec) : "";
            string name = s.Name.Length > width ? s.Name[..(width - 1)] + "…" : s.Name;
            yield return string.Create(CultureInfo.InvariantCulture, $"  {s.Number + 1,3}. {name.PadRight(width)}  {took,9}  {outcome}{exit}").TrimEnd();
        }

        double total = steps.Sum(s => s.Seconds ?? 0);
        yield return string.Create(CultureInfo.InvariantCulture, $"  {"",3}  {"total".PadRight(width)}  {Seconds(total),9}");
    }

    private static string Seconds(double s) => s.ToString("0.00", CultureInfo.InvariantCulture) + " s";
}
