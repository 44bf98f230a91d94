using Kindling.Runner.Cli;
using Kindling.Runner.Jobs;

namespace Kindling.Runner.Tests.Cli;

/// <summary>The steps part of kindling replay's summary: each step's outcome and duration, and the total.</summary>
public sealed class ReplayStepSummaryTests
{
    [Fact]
    public void Lines_StepsOfEveryOutcome_OneLineEachWithDurationAndTotal()
    {
        StepRecord[] steps =
        [
            new(0, "Build", 0, 1.25, false, Outcome: StepResults.Success),
            new(1, "Test", 143, 3.5, false, Outcome: StepResults.TimedOut),
            new(2, "Deploy", null, null, true, Outcome: StepResults.Skipped),
        ];

        Assert.Equal(
        [
            "steps:",
            "    1. Build      1.25 s  success",
            "    2. Test       3.50 s  timed-out (exit 143)",
            "    3. Deploy             skipped",
            "       total      4.75 s",
        ], ReplayStepSummary.Lines(steps));
    }

    [Fact]
    public void Lines_NoSteps_Nothing() => Assert.Empty(ReplayStepSummary.Lines([]));
}
