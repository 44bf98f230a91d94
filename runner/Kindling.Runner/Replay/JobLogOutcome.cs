using Kindling.Runner.Launch;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Replay;

/// <summary>
/// The steps' outcomes and outputs of a finished job, read back from its log's control lines (step-end, step-skip and
/// step-files, images/guest/PROTOCOL.md): what <c>steps.&lt;id&gt;</c> and the job's <c>outputs:</c> are evaluated over.
/// </summary>
public static class JobLogOutcome
{
    /// <param name="ran">The job's steps by the guest's number as the run left them (<see cref="ReplayStepSource.Steps"/>); null: the plan's.</param>
    public static IReadOnlyDictionary<int, StepOutcome> Read(IEnumerable<string> logLines, ReplayJobPlan plan, IReadOnlyList<PlannedStep>? ran = null)
    {
        ran ??= plan.Steps;
        var steps = new StepOutcomes(plan, ran);
        foreach (string line in logLines)
        {
            if (FramingLine.TryParse(line) is not { } c || c.Int("n") is not { } n || n < 0 || n >= ran.Count)
            {
                continue;
            }

            switch (c.Kind)
            {
                case "step-end":
                    steps.Ended(n, c.Int("exit") ?? -1, ran[n].Spec.ContinueOnError, c.Fields.GetValueOrDefault(FramingLine.StepEndedField) == FramingLine.EndedCancelled);
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
