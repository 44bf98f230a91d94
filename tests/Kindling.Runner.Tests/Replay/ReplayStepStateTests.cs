using Kindling.Runner.Jobs;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;

namespace Kindling.Runner.Tests.Replay;

/// <summary>$GITHUB_STATE and ::save-state: what an action's pre and main steps save is STATE_&lt;name&gt; in that action's post step only.</summary>
public sealed class ReplayStepStateTests
{
    private static ReplayJobPlan Plan(string steps) => ReplayActionsTests.Plan(steps, ReplayActionsTests.Inputs with { Image = ReplayDefaults.DebianImage });

    private static HostStepResult Ran(int n, string state = "", params KeyValuePair<string, string>[] saved) =>
        new(n, false, 0, new StepFiles("", "", "", "", state), Commands: StepCommandEffects.None with { State = saved });

    [Fact]
    public void Next_StateSavedByPreAndMain_GivenToThatActionsPostStepOnly()
    {
        ReplayJobPlan plan = Plan("      - uses: octo/tools/lifecycle@v1\n      - uses: ./Actions/tidy\n");
        Assert.Equal(["Pre Run octo/tools/lifecycle@v1", "Run octo/tools/lifecycle@v1", "Run ./Actions/tidy", "Post Run ./Actions/tidy", "Post Run octo/tools/lifecycle@v1"],
            plan.Steps.Select(s => s.Name));
        var source = new ReplayStepSource(plan);
        List<HostStepResult> done = [];
        Assert.DoesNotContain(source.Next(0, done, false)!.Env.Keys, k => k.StartsWith("STATE_", StringComparison.Ordinal));
        done.Add(Ran(0, "phase=pre\n"));
        source.Next(1, done, false);
        done.Add(Ran(1, "phase=main\ncache<<EOF\n/tmp/c\nEOF\n", KeyValuePair.Create("pid", "42"), KeyValuePair.Create("phase", "command")));
        Assert.DoesNotContain(source.Next(2, done, false)!.Env.Keys, k => k.StartsWith("STATE_", StringComparison.Ordinal));
        done.Add(Ran(2, "tidy=yes\n"));

        StepSpec tidyPost = source.Next(3, done, false)!;
        done.Add(Ran(3, "ignored=post\n"));
        StepSpec lifecyclePost = source.Next(4, done, false)!;

        Assert.Equal("yes", tidyPost.Env["STATE_tidy"]);
        Assert.DoesNotContain("STATE_phase", tidyPost.Env.Keys);
        Assert.Equal("main", lifecyclePost.Env["STATE_phase"]); // main's file after its ::save-state, after pre's
        Assert.Equal("42", lifecyclePost.Env["STATE_pid"]);
        Assert.Equal("/tmp/c", lifecyclePost.Env["STATE_cache"]);
        Assert.DoesNotContain("STATE_tidy", lifecyclePost.Env.Keys);
        Assert.DoesNotContain("STATE_ignored", lifecyclePost.Env.Keys);
    }

    [Fact]
    public void Next_WorkflowRunStepsWriteState_NoStepGetsStateVariables()
    {
        ReplayJobPlan plan = Plan("      - run: echo a=1 >> \"$GITHUB_STATE\"\n      - run: echo after\n");
        var source = new ReplayStepSource(plan);
        source.Next(0, [], false);

        StepSpec next = source.Next(1, [Ran(0, "a=1\n")], false)!;

        Assert.DoesNotContain(next.Env.Keys, k => k.StartsWith("STATE_", StringComparison.Ordinal));
    }
}
