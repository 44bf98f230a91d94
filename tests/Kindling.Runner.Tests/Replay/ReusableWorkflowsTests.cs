using System.Collections.Concurrent;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>Reusable workflows (jobs.&lt;id&gt;.uses): expansion as caller/job, with:, secrets:, outputs, nesting limits.</summary>
public sealed class ReusableWorkflowsTests : IDisposable
{
    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-reusable-").FullName;

    public void Dispose() => Directory.Delete(_repo, recursive: true);

    private const string Callee = """
        on:
          workflow_call:
            inputs:
              target: {type: string, required: true}
              fast: {type: boolean, default: true}
              retries: {type: number, default: 2}
            outputs:
              artifact:
                value: ${{ jobs.package.outputs.name }}
        env:
          STAGE: callee
        jobs:
          compile:
            runs-on: ubuntu-latest
            steps:
              - run: echo "compile ${{ inputs.target }} fast=${{ inputs.fast && 'yes' || 'no' }} retries=${{ inputs.retries }} ${{ inputs.retries == 2 }} $STAGE"
              - run: echo "token ${{ secrets.deploy-key }}"
          package:
            needs: compile
            runs-on: ubuntu-latest
            outputs:
              name: ${{ steps.pack.outputs.file }}
            steps:
              - id: pack
                run: echo "file=app.tgz" >> "$GITHUB_OUTPUT"
        """;

    private const string Caller = """
        on: push
        env:
          STAGE: caller
        jobs:
          prep:
            runs-on: ubuntu-latest
            steps: [{run: echo prep}]
          build:
            needs: prep
            uses: ./.github/workflows/build.yml
            with:
              target: linux-${{ github.ref_name }}
              fast: false
            secrets:
              deploy-key: ${{ secrets.TOKEN }}
          publish:
            needs: build
            runs-on: ubuntu-latest
            steps:
              - run: echo "publish ${{ needs.build.outputs.artifact }} after ${{ needs.build.result }}"
        """;

    private Workflow Write(string callerYaml, params (string Name, string Yaml)[] callees)
    {
        Directory.CreateDirectory(Path.Combine(_repo, ".github", "workflows"));
        foreach ((string name, string yaml) in callees)
        {
            File.WriteAllText(Path.Combine(_repo, ".github", "workflows", name), yaml);
        }

        string path = Path.Combine(_repo, "main.yml");
        File.WriteAllText(path, callerYaml);
        return ReusableWorkflows.Expand(WorkflowParser.ParseFile(path, "main.yml"), _repo, actionCache: null);
    }

    [Fact]
    public void Expand_LocalCall_CalleeJobsAsCallerSlashJobInDependencyOrder()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));

        Assert.Equal(["prep", "build/compile", "build/package", "build", "publish"], wf.Jobs.Select(j => j.Id));
        Assert.Equal(["prep"], wf.Jobs.Single(j => j.Id == "build/compile").Needs);
        Assert.Equal(["build/compile"], wf.Jobs.Single(j => j.Id == "build/package").Needs);
        Assert.Equal(["build/compile", "build/package"], wf.Jobs.Single(j => j.Id == "build").Needs);
        Assert.Equal(["build/compile", "build/package"], JobGraph.WithNeeds(wf.Jobs, "build").Where(j => j.Id.StartsWith("build/", StringComparison.Ordinal)).Select(j => j.Id));
    }

    [Fact]
    public void Listing_ExpandedCall_ShowsCalleeJobsInStages()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));

        IReadOnlyList<string[]> rows = new WorkflowSet([wf], []).Listing();

        Assert.Equal(["prep", "build/compile", "build/package", "build", "publish"], rows.Skip(1).Select(r => r[1]));
        Assert.Equal(["0", "1", "2", "3", "4"], rows.Skip(1).Select(r => r[0]));
    }

    [Fact]
    public void Plan_CalleeJob_InputsTypedFromWithAndDefaultsSecretsMappedCalleeEnv()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));

        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(wf, "build/compile", ReplayCorpus.Inputs(("TOKEN", "s3cret"))));

        Assert.Equal("echo \"compile linux-main fast=no retries=2 true $STAGE\"", plan.Spec.Steps[0].Run);
        Assert.Equal("callee", plan.Spec.Env["STAGE"]);
        Assert.DoesNotContain("s3cret", plan.Spec.Steps[1].Run, StringComparison.Ordinal);
        Assert.Contains("TOKEN", plan.Spec.SecretRefs.Values.SelectMany(p => p).Select(p => p.Secret));
    }

    [Fact]
    public void Plan_CallerJob_PlansNothingItself()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));

        Assert.Empty(ReplayPlanner.Plan(wf, "build", ReplayCorpus.Inputs()));
    }

    [Fact]
    public void Plan_RequiredInputMissing_RefusedNamingInputAndFix()
    {
        Workflow wf = Write(Caller.Replace("      target: linux-${{ github.ref_name }}\n", "", StringComparison.Ordinal), ("build.yml", Callee));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "build/compile", ReplayCorpus.Inputs()));
        Assert.Contains("requires the input 'target'", e.Message, StringComparison.Ordinal);
        Assert.Contains("add target: to the job's with:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_WithKeyTheCalleeDoesNotDeclare_Refused()
    {
        Workflow wf = Write(Caller.Replace("fast: false", "fsat: false", StringComparison.Ordinal), ("build.yml", Callee));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "build/compile", ReplayCorpus.Inputs()));
        Assert.Contains("jobs.build.with.fsat: build.yml has no such input (its on.workflow_call.inputs: target, fast, retries)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_CallCycle_RefusedNamingTheCycle()
    {
        const string a = "on: workflow_call\njobs:\n  again:\n    uses: ./.github/workflows/b.yml\n";
        const string b = "on: workflow_call\njobs:\n  back:\n    uses: ./.github/workflows/a.yml\n";
        Workflow wf = Write("on: push\njobs:\n  start:\n    uses: ./.github/workflows/a.yml\n", ("a.yml", a), ("b.yml", b));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "start/again/back", ReplayCorpus.Inputs()));
        Assert.Contains("cycle (main.yml -> a.yml -> b.yml -> a.yml)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_NestingBeyondFourLevels_Refused()
    {
        static string Level(int n) => $"on: workflow_call\njobs:\n  l{n}:\n    uses: ./.github/workflows/w{n + 1}.yml\n";
        const string leaf = "on: workflow_call\njobs:\n  leaf:\n    runs-on: x\n    steps: [{run: echo leaf}]\n";
        Workflow ok = Write("on: push\njobs:\n  top:\n    uses: ./.github/workflows/w1.yml\n", ("w1.yml", Level(1)), ("w2.yml", Level(2)), ("w3.yml", leaf));
        Assert.Contains(ok.Jobs, j => j.Id == "top/l1/l2/leaf");

        Workflow deep = Write("on: push\njobs:\n  top:\n    uses: ./.github/workflows/w1.yml\n", ("w1.yml", Level(1)), ("w2.yml", Level(2)), ("w3.yml", Level(3)), ("w4.yml", leaf));
        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(deep, "top/l1/l2/l3", ReplayCorpus.Inputs()));
        Assert.Contains("nest more than 4 levels deep", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_CalleeWithoutWorkflowCall_RefusedAndOtherJobsStillPlan()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee.Replace("workflow_call:", "workflow_dispatch:", StringComparison.Ordinal)));

        var e = Assert.Throws<ReplayException>(() => ReplayPlanner.Plan(wf, "build", ReplayCorpus.Inputs()));
        Assert.Contains("build.yml is not a reusable workflow (its on: has no workflow_call)", e.Message, StringComparison.Ordinal);
        Assert.Single(ReplayPlanner.Plan(wf, "prep", ReplayCorpus.Inputs()));
    }

    [Fact]
    public async Task RunAsync_CallOutputs_FlowFromCalleeJobToLaterJob()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));
        var ran = new ConcurrentQueue<ReplayJobPlan>();
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(("TOKEN", "s3cret")), (p, _) =>
        {
            ran.Enqueue(p);
            return Task.FromResult(new JobOutcome
            {
                Result = JobResults.Success,
                Steps = p.Job.Steps.ToDictionary(s => s.Number, s => new StepOutcome(JobResults.Success, JobResults.Success,
                    s.Id == "pack" ? [new("file", "app.tgz")] : [])),
            });
        }, 4, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("publish", CancellationToken.None);

        Assert.Equal(["prep", "build/compile", "build/package", "publish"], ran.Select(p => p.Job.Id));
        Assert.Equal([new("artifact", "app.tgz")], results["build"].Outputs);
        Assert.Equal("echo \"publish app.tgz after success\"", ran.Last().Spec.Steps[0].Run);
    }

    [Fact]
    public async Task RunAsync_CalleeJobFails_CallFailsAndLaterJobSkipped()
    {
        Workflow wf = Write(Caller, ("build.yml", Callee));
        var run = new WorkflowRun(wf, ReplayCorpus.Inputs(), (p, _) => Task.FromResult(p.Job.Id == "build/compile"
            ? new JobOutcome { Result = JobResults.Failure, ExitCode = 4 }
            : new JobOutcome { Result = JobResults.Success }), 4, _ => { });

        IReadOnlyDictionary<string, JobSummary> results = await run.RunAsync("publish", CancellationToken.None);

        Assert.Equal(JobResults.Failure, results["build"].Result);
        Assert.Equal(4, results["build"].ExitCode);
        Assert.Equal(JobResults.Skipped, results["publish"].Result);
    }
}
