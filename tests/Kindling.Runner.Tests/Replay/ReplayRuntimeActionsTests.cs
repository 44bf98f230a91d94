using Kindling.Runner.Jobs;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// Actions planned at step time: a local action an earlier step writes (loaded from the guest when its step comes),
/// a composite's with: over the steps context when it starts, and a nested composite's outputs flowing up.
/// </summary>
public sealed class ReplayRuntimeActionsTests
{
    private static HostStepResult Ran(int n, string output = "", int exit = 0) => new(n, false, exit, new StepFiles(output, "", "", ""));

    /// <summary>What a load step leaves in $GITHUB_OUTPUT for <paramref name="yaml"/> (its script's block).</summary>
    private static string Loaded(string yaml)
    {
        string script = RuntimeActions.Script("./x");
        string open = script[(script.IndexOf(RuntimeActions.OutputName + "<<", StringComparison.Ordinal) + RuntimeActions.OutputName.Length + 2)..];
        string delimiter = open[..open.IndexOf('\'', StringComparison.Ordinal)];
        return $"{RuntimeActions.OutputName}<<{delimiter}\n{yaml}\n\n{delimiter}\n";
    }

    private const string Manifest = """
        inputs:
          who: {required: true}
          greeting: {default: "hi ${{ inputs.who }}"}
        outputs:
          said: {value: "${{ steps.say.outputs.line }}"}
        runs:
          using: composite
          steps:
            - id: say
              run: echo "line=${{ inputs.greeting }}" >> "$GITHUB_OUTPUT"
              shell: bash
            - run: echo done
              shell: bash
        """;

    private const string Written =
        "      - id: pick\n        run: echo \"fruit=pear\" >> \"$GITHUB_OUTPUT\"\n" +
        "      - run: cat > dyn/action.yml\n" +
        "      - id: dyn\n        uses: ./dyn\n        with:\n          who: ${{ steps.pick.outputs.fruit }}\n" +
        "      - run: echo \"${{ steps.dyn.outputs.said }}\"\n";

    [Fact]
    public void Plan_LocalActionWrittenByAnEarlierStep_LoadStepNamingTheWriterNotUnsupported()
    {
        ReplayJobPlan p = ReplayActionsTests.Plan(Written);

        PlannedStep load = p.Steps[2];
        Assert.Equal(PlannedStepKind.LoadAction, load.Kind);
        Assert.Contains(load.Notes, n => n.Contains("./dyn is written at run time by step 2", StringComparison.Ordinal));
        Assert.Contains("\"./dyn\"", load.Spec.Run.Replace('\'', '"'), StringComparison.Ordinal);
        Assert.Empty(p.UnsupportedSteps);
        string dry = DryRunPrinter.Print([p]);
        Assert.Contains("[uses: ./dyn: loaded when the step runs, written by an earlier step]", dry, StringComparison.Ordinal);
        Assert.DoesNotContain("not supported", dry, StringComparison.OrdinalIgnoreCase); // what the act corpus counts as not supported
    }

    [Fact]
    public void Plan_DockerActionWrittenByAnEarlierStep_NotSupportedNamingThatStep()
    {
        ReplayJobPlan p = ReplayActionsTests.Plan("      - run: FROM debian\n        shell: mv {0} Dockerfile\n      - uses: ./\n");

        Assert.Contains("step 1 writes a Docker action for ./ at run time", Assert.Single(p.UnsupportedSteps).UnsupportedReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_LoadStepReadTheManifest_ActionStepsFollowWithStepTimeInputsAndOutputs()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Written);
        var source = new ReplayStepSource(plan);
        List<HostStepResult> done = [];
        source.Next(0, done, false);
        done.Add(Ran(0, "fruit=pear\n"));
        source.Next(1, done, false);
        done.Add(Ran(1));
        Assert.Contains(RuntimeActions.OutputName, source.Next(2, done, false)!.Run, StringComparison.Ordinal);
        Assert.Equal(4, source.Steps.Count);
        done.Add(Ran(2, Loaded(Manifest)));

        StepSpec say = source.Next(3, done, false)!;
        done.Add(Ran(3, "line=hi pear\n"));
        StepSpec second = source.Next(4, done, false)!;
        done.Add(Ran(4));
        StepSpec last = source.Next(5, done, false)!;
        done.Add(Ran(5));

        Assert.Equal("echo \"line=hi pear\" >> \"$GITHUB_OUTPUT\"", say.Run);
        Assert.Equal("always()", say.If);
        Assert.Equal("echo done", second.Run);
        Assert.Equal(6, source.Steps.Count);
        Assert.Equal([1, 2, 3, 3, 3, 4], source.Steps.Select(s => s.Number));
        Assert.Equal("echo \"hi pear\"", last.Run);
        Assert.Null(source.Next(6, done, false));
        // the outcomes read back from the log see the grown step list
        Assert.Equal("hi pear", JobLogOutcome.Read(Log(done), plan, source.Steps)[3].Outputs.Single(kv => kv.Key == "said").Value);
    }

    [Fact]
    public void Next_LoadStepFoundNoManifest_NoActionStepsAndTheStepFailed()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Written);
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);
        source.Next(1, [Ran(0)], false);
        source.Next(2, [Ran(0), Ran(1)], false);

        StepSpec last = source.Next(3, [Ran(0), Ran(1), Ran(2, exit: 1)], false)!;

        Assert.Equal(4, source.Steps.Count);
        Assert.Equal("cancelled()", last.If); // success() after a failure: skipped
    }

    [Fact]
    public void Next_LoadedManifestInvalid_StepFailsWithTheParserReason()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Written);
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);
        source.Next(1, [Ran(0)], false);
        source.Next(2, [Ran(0), Ran(1)], false);

        StepSpec failing = source.Next(3, [Ran(0), Ran(1), Ran(2, Loaded("runs:\n  using: composite\n"))], false)!;

        Assert.Contains("a composite action needs runs.steps", failing.Run, StringComparison.Ordinal);
        Assert.EndsWith("exit 1", failing.Run, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_LoadedJavaScriptAction_MainGetsInputsAndPostRunsLast()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(Written + "      - run: echo end\n", ReplayActionsTests.Inputs with { Image = ReplayDefaults.DebianImage });
        var source = new ReplayStepSource(plan);
        List<HostStepResult> done = [];
        for (int i = 0; i < 3; i++)
        {
            source.Next(i, done, false);
            done.Add(Ran(i, i == 0 ? "fruit=fig\n" : i == 2 ? Loaded("inputs: {who: {}}\nruns: {using: node20, main: main.js, pre: pre.js, post: post.js}") : ""));
        }

        StepSpec main = source.Next(3, done, false)!;

        Assert.EndsWith("exec node '/workspace/dyn/main.js'", main.Run, StringComparison.Ordinal);
        Assert.Equal("fig", main.Env["INPUT_WHO"]);
        Assert.Equal(["Run echo \"${{ steps.dyn.outputs.said }}\"", "Run echo end", "Post Run ./dyn"], source.Steps.Skip(4).Select(s => s.Name));
        Assert.DoesNotContain(source.Steps, s => s.Stage == PlannedStepStage.Pre);
    }

    [Fact]
    public void Next_CompositeWithReadsAStepOutput_InputsEvaluatedWhenTheActionStarts()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(
            "      - id: a\n        run: echo \"who=ann\" >> \"$GITHUB_OUTPUT\"\n" +
            "      - uses: ./Actions/greet\n        with:\n          who: ${{ steps.a.outputs.who }}\n");
        Assert.Contains("hello !", plan.Spec.Steps[1].Run, StringComparison.Ordinal); // before boot no step has run
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);

        StepSpec say = source.Next(1, [Ran(0, "who=ann\n")], false)!;

        Assert.StartsWith("echo \"hello ann! from /workspace/Actions/greet", say.Run, StringComparison.Ordinal);
    }

    [Fact]
    public void Next_NestedCompositeOutputs_FlowUpToTheWorkflowStep()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan(
            "      - id: o\n        uses: ./Actions/outer-tally\n        with:\n          label: pears\n" +
            "      - run: echo \"${{ steps.o.outputs.total }} ${{ steps.o.outputs.summary }}\"\n");
        Assert.Equal(4, plan.Steps.Count);
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);
        source.Next(1, [Ran(0, "total=7\n")], false);

        StepSpec inside = source.Next(2, [Ran(0, "total=7\n"), Ran(1)], false)!;
        StepSpec report = source.Next(3, [Ran(0, "total=7\n"), Ran(1), Ran(2)], false)!;

        Assert.Equal("echo \"inner said pears=7 (success)\"", inside.Run);
        Assert.Equal("echo \"7 pears=7 (success) pears!\"", report.Run);
    }

    [Fact]
    public void Next_CompositeStepReadsAnEarlierStepOfTheAction_ItsOutputsAndGitHubEnvAtStepTime()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan("      - id: first\n        run: echo \"word=fig\" >> \"$GITHUB_OUTPUT\"\n      - id: r\n        uses: ./Actions/relay\n" +
                                                     "      - run: echo \"${{ steps.r.outputs.word }} ${{ steps.first.outputs.word }}\"\n");
        Assert.Equal("cancelled()", plan.Spec.Steps[2].If); // before boot the action's first step has no outputs
        var source = new ReplayStepSource(plan);
        List<HostStepResult> done = [];
        source.Next(0, done, false);
        done.Add(Ran(0, "word=fig\n"));
        source.Next(1, done, false);
        done.Add(new HostStepResult(1, false, 0, new StepFiles("word=plum\n", "COLOR=red\n", "", "")));

        StepSpec second = source.Next(2, done, false)!;
        done.Add(Ran(2));
        StepSpec last = source.Next(3, done, false)!;

        Assert.Equal("always()", second.If);
        Assert.Equal("echo \"got plum in red\"", second.Run); // the action's steps.first, not the workflow's
        Assert.Equal("echo \"plum fig\"", last.Run);
    }

    [Fact]
    public void Next_CompositeUnderContinueOnError_ItsStepsKeepItAndHaveTheActionPath()
    {
        ReplayJobPlan plan = ReplayActionsTests.Plan("      - uses: ./Actions/relay\n        continue-on-error: true\n      - run: echo after\n");
        var source = new ReplayStepSource(plan);

        StepSpec first = source.Next(0, [], false)!;
        StepSpec second = source.Next(1, [Ran(0, "word=plum\n", exit: 1)], false)!;
        StepSpec after = source.Next(2, [Ran(0, "word=plum\n", exit: 1), Ran(1)], false)!;

        Assert.True(first.ContinueOnError && second.ContinueOnError);
        Assert.Equal("/workspace/Actions/relay", first.Env["GITHUB_ACTION_PATH"]);
        Assert.Equal("always()", after.If); // the action's failure was tolerated
    }

    /// <summary>The control lines a guest would have written for these results.</summary>
    private static IEnumerable<string> Log(IEnumerable<HostStepResult> done) => done.SelectMany(r => new[]
    {
        $"##kindling[step-end n={r.Number} exit={r.ExitCode} seconds=0.01]",
        $"##kindling[step-files n={r.Number} output={Base64Url(r.Files.Output)} env= path= summary= state=]",
    });

    private static string Base64Url(string s) =>
        Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
