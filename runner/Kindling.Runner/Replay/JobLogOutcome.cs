using Kindling.Runner.Launch;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Replay;

/// <summary>
/// The steps' outcomes and outputs of a finished job, read back from its log's control lines (step-end, step-skip and
/// step-files, images/guest/PROTOCOL.md): what <c>steps.&lt;id&gt;</c> and the job's <c>outputs:</c> are evaluated over.
/// </summary>
public static class JobLogOutcome
{
    public static IReadOnlyDictionary<int, StepOutcome> Read(IEnumerable<string> logLines, ReplayJobPlan plan)
    {
        var steps = new StepOutcomes(plan);
        foreach (string line in logLines)
        {
            if (FramingLine.TryParse(line) is not { } c || c.Int("n") is not { } n || n < 0 || n >= plan.Steps.Count)
            {
                continue;
            }

            switch (c.Kind)
            {
                case "step-end":
                    steps.Ended(n, c.Int("exit") ?? -1, plan.Spec.Steps[n].ContinueOnError, c.Fields.GetValueOrDefault(FramingLine.StepEndedField) == FramingLine.EndedCancelled);
                    break;
                case "step-skip":
                    steps.Skipped(n);
                    break;
                case "step-files":
                    steps.Files(n, c.Text("output") ?? "");
                    break;
            }
        }

        return steps.Steps;
    }
}
