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
        var steps = new Dictionary<int, StepOutcome>();
        foreach (string line in logLines)
        {
            if (FramingLine.TryParse(line) is not { } c || c.Int("n") is not { } n || n < 0 || n >= plan.Steps.Count)
            {
                continue;
            }

            int number = plan.Steps[n].Number;
            switch (c.Kind)
            {
                case "step-end":
                    string outcome = c.Int("exit") == 0 ? JobResults.Success : JobResults.Failure;
                    string conclusion = outcome == JobResults.Failure && plan.Spec.Steps[n].ContinueOnError ? JobResults.Success : outcome;
                    steps[number] = new StepOutcome(outcome, conclusion, steps.GetValueOrDefault(number)?.Outputs ?? []);
                    break;
                case "step-skip":
                    steps[number] = new StepOutcome(JobResults.Skipped, JobResults.Skipped, []);
                    break;
                case "step-files" when !plan.Steps[n].PartOfAction && steps.TryGetValue(number, out StepOutcome? ended):
                    steps[number] = ended with { Outputs = GuestCommandFiles.ParseEntries(c.Text("output") ?? "") };
                    break;
            }
        }

        return steps;
    }
}
