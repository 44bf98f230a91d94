using System.Text.Json.Nodes;
using System.Threading.Channels;
using Kindling.Images.Guest;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>The runner's half of host-driven steps: the first MMDS and the PATCH after each step's end.</summary>
public sealed class HostStepLoopTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly JobSpec TwoSteps = new()
    {
        Name = "two",
        Steps = [new StepSpec { Name = "one", Run = "echo 1" }, new StepSpec { Name = "two", Run = "echo 2", If = "always()" }],
        Env = new Dictionary<string, string> { ["GREETING"] = "hi" },
    };

    private static JsonObject Tree(JobSpec spec) => MmdsTree.Build(5, spec.Name, TimeSpan.FromMinutes(1), spec, new Dictionary<string, string> { ["TOKEN"] = "t0k3n" }, null, null, MmdsKeys.Job.ModeHost);

    /// <summary>A VM whose PATCH /mmds calls are recorded.</summary>
    private sealed class PatchedVm : IVmHandle
    {
        public Channel<JsonObject> Patches { get; } = Channel.CreateUnbounded<JsonObject>();
        public int Pid => 0;
        public Task<int> Exited { get; } = new TaskCompletionSource<int>().Task;
        public Task KillAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public Task PatchMmdsAsync(JsonObject patch, CancellationToken ct)
        {
            Patches.Writer.TryWrite(patch);
            return Task.CompletedTask;
        }
    }

    private static JsonNode StepOf(string document) => JobDocument.Parse(document)["kindling"]!;

    [Fact]
    public void FirstMmds_SpecJob_DocumentInHostModeWithoutStepsAndStep0Beside()
    {
        var loop = new HostStepLoop(new SpecStepSource(TwoSteps), new JobLogObserverStub());

        JsonObject mmds = loop.FirstMmds(Tree(TwoSteps));

        JsonNode job = JobDocument.Parse(mmds["kindling"]![JobDocument.Key]!.GetValue<string>())["kindling"]!["job"]!;
        Assert.Equal("host", job["mode"]!.GetValue<string>());
        Assert.Null(job["steps"]);
        Assert.Null(job["step_count"]);
        Assert.Equal("hi", job["env"]!["GREETING"]!.GetValue<string>());
        Assert.Equal("echo 1", StepOf(mmds["kindling"]!["steps"]!["0"]!.GetValue<string>())["job"]!["steps"]!["0"]!["run"]!.GetValue<string>());
    }

    [Fact]
    public async Task RunAsync_StepEndsThenSkip_PatchesTheNextStepRemovingTheOneReadThenDocEnd()
    {
        var next = new JobLogObserverStub();
        var loop = new HostStepLoop(new SpecStepSource(TwoSteps), next);
        loop.FirstMmds(Tree(TwoSteps));
        var vm = new PatchedVm();
        Task run = loop.RunAsync(vm, Ct);

        loop.OnStepStart(0, "one");
        loop.OnStepEnd(0, 0, 0.1);
        Assert.False(vm.Patches.Reader.TryRead(out _)); // not before its step-files line: $GITHUB_ENV is not known yet
        loop.OnStepFiles(0, new StepFiles("", "X=1\n", "", ""));
        JsonObject first = await vm.Patches.Reader.ReadAsync(Ct);
        loop.OnStepSkip(1, "two", "if");
        JsonObject second = await vm.Patches.Reader.ReadAsync(Ct);
        loop.OnJobEnd(new JobEnd(true, 0));
        await run;

        JsonObject steps = first["kindling"]!["steps"]!.AsObject();
        Assert.True(steps.ContainsKey("0") && steps["0"] is null);
        Assert.Equal("echo 2", StepOf(steps["1"]!.GetValue<string>())["job"]!["steps"]!["1"]!["run"]!.GetValue<string>());
        Assert.Equal(JobDocument.EncodeStep(2, null), second["kindling"]!["steps"]!["2"]!.GetValue<string>());
        Assert.Equal(["start 0", "end 0", "files 0", "skip 1", "job-end"], next.Events);
        Assert.Equal((0, "one"), loop.Current);
    }

    private sealed class Throwing : IHostStepSource
    {
        public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done, bool cancelled) =>
            n == 0 ? new StepSpec { Name = "a", Run = "true" } : throw new HostStepException("w.yml: step 2: bad expression");
    }

    [Fact]
    public async Task RunAsync_StepCannotBeDecided_HandsAStepThatPrintsTheReasonAndFails()
    {
        var loop = new HostStepLoop(new Throwing(), new JobLogObserverStub());
        loop.FirstMmds(Tree(TwoSteps));
        var vm = new PatchedVm();
        Task run = loop.RunAsync(vm, Ct);

        loop.OnStepEnd(0, 0, 0.1);
        loop.OnStepFiles(0, StepFiles.None);
        JsonNode step = StepOf((await vm.Patches.Reader.ReadAsync(Ct))["kindling"]!["steps"]!["1"]!.GetValue<string>())["job"]!["steps"]!["1"]!;
        loop.OnJobEnd(new JobEnd(false, 2));
        await run;

        Assert.Equal("always()", step["if"]!.GetValue<string>());
        Assert.Contains("exit 2", step["run"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("kindling: w.yml: step 2: bad expression", step["env"]!["KINDLING_STEP_ERROR"]!.GetValue<string>());
    }

    private sealed class RefusingVm : IVmHandle
    {
        public int Pid => 0;
        public Task<int> Exited { get; } = new TaskCompletionSource<int>().Task;
        public Task KillAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        public Task PatchMmdsAsync(JsonObject patch, CancellationToken ct) =>
            throw new VmLaunchException("VMM API PATCH /mmds answered 400: The MMDS data store limit was exceeded");
    }

    [Fact]
    public async Task RunAsync_PatchRefused_FailedGivesTheReasonAndTheLoopEnds()
    {
        var loop = new HostStepLoop(new SpecStepSource(TwoSteps), new JobLogObserverStub());
        loop.FirstMmds(Tree(TwoSteps));
        Task run = loop.RunAsync(new RefusingVm(), Ct);

        loop.OnStepEnd(0, 0, 0.1);
        loop.OnStepFiles(0, StepFiles.None);
        await run;

        Assert.True(loop.Failed.IsCompleted);
        Assert.Contains("data store limit", await loop.Failed, StringComparison.Ordinal);
    }

    /// <summary>Records what the loop forwards.</summary>
    private sealed class JobLogObserverStub : ILogObserver
    {
        public List<string> Events { get; } = [];
        public void OnStepStart(int n, string name) => Events.Add($"start {n}");
        public void OnStepEnd(int n, int exitCode, double? seconds) => Events.Add($"end {n}");
        public void OnStepFiles(int n, StepFiles files) => Events.Add($"files {n}");
        public void OnStepSkip(int n, string name, string reason) => Events.Add($"skip {n}");
        public void OnJobEnd(JobEnd end) => Events.Add("job-end");
    }
}
