using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Kindling.Images.Tests.Guest;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;
using Kindling.Runner.Tests.Cli;
using Kindling.Runner.Tests.Replay;
using Kindling.Testing;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Tests.Jobs;

/// <summary>
/// Host-driven steps end to end without a VM: the real agent (images/guest/agent.sh, run outside a VM as the agent
/// tests run it) against an MMDS V2 endpoint, the runner's LogPump reading its console as it is written, and
/// <see cref="HostStepLoop"/> with <see cref="ReplayStepSource"/> handing each step over by changing MMDS, as the
/// runner PATCHes kindling-vmm's.
/// </summary>
public sealed class HostStepLoopAgentTests : IDisposable
{
    private const string MmdsAddress = "169.254.169.254";

    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-host-steps-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string AgentPath => Path.Combine(RepoPaths.Root, "images", "guest", "agent.sh");

    /// <summary>A VM whose PATCH /mmds lands in the test's MMDS endpoint (only kindling/steps/N changes in host mode).</summary>
    private sealed class ServedVm(MmdsTestServer mmds) : IVmHandle
    {
        public int Pid => 0;
        public Task<int> Exited { get; } = new TaskCompletionSource<int>().Task;
        public Task KillAsync() => Task.CompletedTask;
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;

        public Task PatchMmdsAsync(JsonObject patch, CancellationToken ct)
        {
            foreach ((string n, JsonNode? v) in patch["kindling"]!["steps"]?.AsObject() ?? [])
            {
                mmds.Set($"kindling/steps/{n}", v?.GetValue<string>());
            }

            if (patch["kindling"]![MmdsKeys.Root.Cancel] is { } cancel)
            {
                mmds.Set($"kindling/{MmdsKeys.Root.Cancel}", cancel.GetValue<string>());
            }

            return Task.CompletedTask;
        }
    }

    private sealed class Lines : ILogObserver
    {
        public List<string> All { get; } = [];
        public List<string> Steps { get; } = [];
        public Dictionary<int, (int Exit, double? Seconds, long At)> Ends { get; } = [];

        /// <summary>Completes with the first output line that holds its text.</summary>
        public (string Text, TaskCompletionSource Seen)? Watch { get; set; }

        public void OnLine(long offset, string maskedLine)
        {
            All.Add(maskedLine);
            if (Watch is { } w && maskedLine.Contains(w.Text, StringComparison.Ordinal))
            {
                w.Seen.TrySetResult();
            }
        }

        public List<string> Errors { get; } = [];

        public void OnAgentError(string message) => Errors.Add(message);

        public void OnStepStopped(int n, string endedBy) => Steps.Add($"{n} ended={endedBy}");
        public void OnStepSkip(int n, string name, string reason) => Steps.Add($"{n} skipped");

        public void OnStepEnd(int n, int exitCode, double? seconds)
        {
            Ends[n] = (exitCode, seconds, Stopwatch.GetTimestamp());
            Steps.Add($"{n} exit={exitCode}");
        }
    }

    private static JsonObject First(HostStepLoop loop, JobSpec spec) =>
        loop.FirstMmds(MmdsTree.Build(9, spec.Name, TimeSpan.FromMinutes(5), spec, new Dictionary<string, string>(), null, null, MmdsKeys.Job.ModeHost));

    private static readonly JobSpec CancelJob = new()
    {
        Name = "cancel",
        Steps =
        [
            // A background child shares the step's stdout: unless the whole process group ends, the log never closes.
            new StepSpec { Name = "long", Run = "sleep 60 & echo started; sleep 60; echo not reached" },
            new StepSpec { Name = "cleanup", Run = "echo cleanup ran", If = "always()" },
            new StepSpec { Name = "next", Run = "echo next ran" },
            new StepSpec { Name = "report", Run = "echo report ran", If = "cancelled()" },
        ],
    };

    [RootFact]
    public async Task Agent_JobCancelledWhileAStepRuns_TheStepsProcessGroupEndsAndAlwaysAndCancelledStepsRun()
    {
        var lines = new Lines { Watch = ("started", new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)) };
        var loop = new HostStepLoop(new SpecStepSource(CancelJob), lines);
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), First(loop, CancelJob));

        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        Task pumping = pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct);
        await lines.Watch.Value.Seen.Task.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        long cancelAt = Stopwatch.GetTimestamp();
        Assert.True(loop.CanCancelSteps);
        Assert.True(await loop.CancelAsync(Ct));
        await pumping.WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;
        TimeSpan latency = Stopwatch.GetElapsedTime(cancelAt, lines.Ends[0].At);
        TestContext.Current.SendDiagnosticMessage($"cancel to step-end: {latency.TotalMilliseconds:F0} ms");

        string log = string.Join('\n', lines.All);
        Assert.Equal(["0 ended=cancelled", "0 exit=143", "1 exit=0", "2 skipped", "3 exit=0"], lines.Steps);
        Assert.Contains("cleanup ran", log, StringComparison.Ordinal);
        Assert.Contains("report ran", log, StringComparison.Ordinal);
        Assert.DoesNotContain("not reached", log, StringComparison.Ordinal);
        Assert.DoesNotContain("next ran", log, StringComparison.Ordinal);
        Assert.Equal(new JobEnd(false, 143), pump.End);
        Assert.True(loop.Cancelled);
        Assert.True(latency < TimeSpan.FromSeconds(30), $"the step ended {latency} after the cancel, not at its first poll of kindling/cancel");
    }

    [RootFact]
    public async Task Agent_StepTimeoutSeconds_StepEndedAsTimedOutAndFailureStepsRun()
    {
        JobSpec spec = new()
        {
            Name = "timeout",
            Steps =
            [
                new StepSpec { Name = "slow", Run = "echo started; sleep 60", Timeout = TimeSpan.FromSeconds(1) },
                new StepSpec { Name = "after", Run = "echo after ran" },
                new StepSpec { Name = "handle", Run = "echo handled", If = "failure()" },
            ],
        };
        (Lines lines, _, JobEnd? end) = await RunAgentAsync(spec);
        TestContext.Current.SendDiagnosticMessage($"a 1 s step timeout ended the step after {lines.Ends[0].Seconds} s");

        Assert.Equal(["0 ended=timed-out", "0 exit=143", "1 skipped", "2 exit=0"], lines.Steps);
        Assert.Contains("handled", string.Join('\n', lines.All), StringComparison.Ordinal);
        Assert.True(lines.Ends[0].Seconds < 30, $"the step ran {lines.Ends[0].Seconds} s under a 1 s timeout");
        Assert.Equal(new JobEnd(false, 143), end);
    }

    [RootFact]
    public async Task Agent_StepIgnoresTermPastItsTimeout_KilledAfterTheJobsStopGrace()
    {
        JobSpec spec = new()
        {
            Name = "grace",
            Steps =
            [
                new StepSpec { Name = "stubborn", Run = "trap '' TERM; echo started; sleep 60; echo not reached", Timeout = TimeSpan.FromSeconds(1) },
                new StepSpec { Name = "handle", Run = "echo handled", If = "failure()" },
            ],
        };
        var lines = new Lines();
        var loop = new HostStepLoop(new SpecStepSource(spec), lines);
        JsonObject tree = MmdsTree.Build(9, spec.Name, TimeSpan.FromMinutes(5), spec, new Dictionary<string, string>(), null, null, MmdsKeys.Job.ModeHost,
            stopGrace: TimeSpan.FromMilliseconds(200));
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), loop.FirstMmds(tree));

        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        await pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;

        string log = string.Join('\n', lines.All);
        Assert.Equal(["0 ended=timed-out", "0 exit=137", "1 exit=0"], lines.Steps);
        Assert.Contains("kindling: step 0 still runs 200 ms after TERM (its stop grace): KILL", log, StringComparison.Ordinal);
        Assert.DoesNotContain("not reached", log, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Agent_HostDrivenReplayJob_GitHubEnvOfStep1DecidesTheIfOfLaterSteps()
    {
        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(ReplayStepTimeTests.Workflow, "ci.yml"), "a", ReplayCorpus.Inputs()));
        var lines = new Lines();
        var loop = new HostStepLoop(new ReplayStepSource(plan), lines);
        JsonObject first = loop.FirstMmds(MmdsTree.Build(9, "a", TimeSpan.FromMinutes(5), plan.Spec, new Dictionary<string, string>(), null, null, MmdsKeys.Job.ModeHost));
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), first);

        Stopwatch clock = Stopwatch.StartNew();
        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        await pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;
        TestContext.Current.SendDiagnosticMessage($"host-driven job of 4 steps: {mmds.Requests.Count} MMDS requests, {clock.Elapsed.TotalSeconds:F2} s");

        string log = string.Join('\n', lines.All);
        Assert.True(agent.ExitCode == 0, log);
        Assert.Contains("fast path 7 mode fast", log, StringComparison.Ordinal);
        Assert.DoesNotContain("slow path", log, StringComparison.Ordinal);
        Assert.Contains("setup was success", log, StringComparison.Ordinal);
        Assert.Equal(new JobEnd(true, 0), pump.End);
        // Besides these, a step that runs longer than 100 ms polls kindling/cancel (none here: the job is not cancelled).
        string[] gets = [.. mmds.Requests.Select(q => q[..q.IndexOf(" token=", StringComparison.Ordinal)]).Where(q => q != "GET /kindling/cancel").Distinct()];
        Assert.Equal(["PUT /latest/api/token", "GET /kindling/document", "GET /kindling/steps/0", "GET /kindling/steps/1", "GET /kindling/steps/2",
            "GET /kindling/steps/3", "GET /kindling/steps/4"], gets);
    }

    /// <summary>A workflow written for this suite: every stdout workflow command the runner reads at run time.</summary>
    internal const string CommandsWorkflow = """
        on: push
        jobs:
          a:
            runs-on: x
            steps:
              - id: out
                run: |
                  echo "::set-output name=answer::42"
                  echo "::add-mask::hunter2"
                  echo "the password is hunter2"
                  echo "::warning file=a.c,line=3::look here"
                  echo "::group::details"
                  echo "::endgroup::"
              - name: Refused
                run: echo "::set-env name=SNEAKY::yes"
              - name: Allowed
                env:
                  ACTIONS_ALLOW_UNSECURE_COMMANDS: true
                run: |
                  mkdir -p /tmp/kindling-cmd-bin && printf '#!/bin/sh\necho tool ran\n' > /tmp/kindling-cmd-bin/mytool && chmod +x /tmp/kindling-cmd-bin/mytool
                  echo "::set-env name=MODE::fast"
                  echo "::add-path::/tmp/kindling-cmd-bin"
              - id: stopped
                run: |
                  echo "::stop-commands::pause1"
                  echo "::set-output name=w::while-stopped"
                  echo "::pause1::"
                  echo "::set-output name=w::after"
              - name: Use
                if: env.MODE == 'fast'
                run: |
                  echo "answer ${{ steps.out.outputs.answer }} w ${{ steps.stopped.outputs.w }} sneaky [${SNEAKY:-}] mode $MODE"
                  mytool
        """;

    [RootFact]
    public async Task Agent_StdoutWorkflowCommands_OutputsEnvPathMaskAndStopCommandsAtRunTime()
    {
        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(CommandsWorkflow, "commands.yml"), "a", ReplayCorpus.Inputs()));
        var lines = new Lines();
        var loop = new HostStepLoop(new ReplayStepSource(plan), lines, plan.Spec.Env);
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), First(loop, plan.Spec));

        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop) { Commands = new WorkflowCommandReader(), UnsecureCommandsAllowed = loop.UnsecureCommandsAllowed };
        string logPath = Path.Combine(_dir, "job.log");
        await pump.RunAsync(agent.StandardOutput.BaseStream, logPath, Ct).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;

        string log = string.Join('\n', lines.All);
        Assert.True(pump.End == new JobEnd(true, 0), log);
        Assert.Contains("answer 42 w after sneaky [] mode fast", log, StringComparison.Ordinal);
        Assert.Contains("tool ran", log, StringComparison.Ordinal);
        Assert.Contains("the password is ***", log, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", await File.ReadAllTextAsync(logPath, Ct), StringComparison.Ordinal);
        Assert.Contains("kindling: the `set-env` command is disabled", log, StringComparison.Ordinal);
        Assert.Equal((1, 1), loop.Annotations); // the ::warning, and the refused ::set-env
    }

    [RootFact]
    public async Task Agent_SecretsInScriptText_ReplacedByteForByteInARamFileRemovedAfterTheStepAndMasked()
    {
        ReplayInputs inputs = ReplayCorpus.Inputs(SecretScriptWorkflow.Secrets);
        ReplayJobPlan plan = Assert.Single(ReplayPlanner.Plan(WorkflowParser.Parse(SecretScriptWorkflow.Yaml, "secrets.yml"), "a", inputs));
        IReadOnlyDictionary<string, string> secrets = SecretResolver.Derive(inputs.Secrets, plan.Spec.SecretRefs, "replay", 0);
        var lines = new Lines();
        var loop = new HostStepLoop(new ReplayStepSource(plan), lines, plan.Spec.Env);
        (JobEnd? end, string written, IReadOnlyList<string> requests) =
            await RunToEndAsync(loop, MmdsTree.Build(9, "a", TimeSpan.FromMinutes(5), plan.Spec, secrets, null, null, MmdsKeys.Job.ModeHost));

        string log = string.Join('\n', lines.All);
        Assert.True(end == new JobEnd(true, 0), log);
        Assert.Equal(["0 exit=0", "1 exit=0", "2 exit=0", "3 exit=0", "4 exit=0", "5 exit=0", "6 exit=0"], lines.Steps);
        Assert.Contains("custom shell file in the step's tmp", log, StringComparison.Ordinal);
        Assert.Contains("printed: ***", log, StringComparison.Ordinal);
        Assert.Contains("+ v=***", log, StringComparison.Ordinal); // xtrace of the pasted value
        Assert.Contains("heredoc exact", log, StringComparison.Ordinal);
        Assert.Contains("script fs: tmpfs", log, StringComparison.Ordinal);
        Assert.Contains("script gone", log, StringComparison.Ordinal);
        Assert.Contains("python exact", log, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, written, StringComparison.Ordinal);
        Assert.DoesNotContain("[1, 2]", written, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, plan.Spec.ToJson(), StringComparison.Ordinal);
        Assert.All(requests, q => Assert.DoesNotContain(SecretScriptWorkflow.Key, q, StringComparison.Ordinal));
    }

    [RootFact]
    public async Task Agent_PlaceholderNamingNoSecret_StepFailsWithExit2AndTheReason()
    {
        JobSpec spec = new()
        {
            Name = "missing",
            Steps =
            [
                new StepSpec { Name = "named", Run = "echo 'x %%kindling-secret:NOPE%%'" },
                new StepSpec { Name = "malformed", Run = "echo '%%kindling-secret:a b%%'", If = "always()" },
            ],
        };
        var lines = new Lines();
        await RunToEndAsync(new HostStepLoop(new SpecStepSource(spec), lines), MmdsTree.Build(9, spec.Name, TimeSpan.FromMinutes(5), spec,
            new Dictionary<string, string>(), null, null, MmdsKeys.Job.ModeHost));

        string log = string.Join('\n', lines.All);
        Assert.Equal(["0 exit=2", "1 exit=2"], lines.Steps);
        Assert.Contains("kindling: step 0: the script names the secret NOPE, which the job document does not hold", log, StringComparison.Ordinal);
        Assert.Contains("kindling: step 1: the script holds a malformed secret placeholder", log, StringComparison.Ordinal);
        Assert.DoesNotContain("x %%", log, StringComparison.Ordinal); // nothing ran
    }

    [RootFact]
    public async Task Agent_SecretInScriptOfAJobUser_ThatUserReadsItsRamScript()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED); // the step's user reaches its command files under it, as under the guest's /tmp
        }

        JobSpec spec = new()
        {
            Name = "user-secret", User = "4321:4322",
            Steps = [new StepSpec { Name = "paste", Run = "[ \"$(id -u)\" = 4321 ] && [ '%%kindling-secret:KEY%%' = 'pa$te' ] && echo pasted-as-user" }],
        };
        var lines = new Lines();
        (JobEnd? end, string log, _) = await RunToEndAsync(new HostStepLoop(new SpecStepSource(spec), lines), MmdsTree.Build(9, spec.Name, TimeSpan.FromMinutes(5), spec,
            new Dictionary<string, string> { ["KEY"] = "pa$te" }, null, null, MmdsKeys.Job.ModeHost));

        Assert.True(end == new JobEnd(true, 0), log + string.Join('\n', lines.Errors));
        Assert.Contains("pasted-as-user", log, StringComparison.Ordinal);
    }

    /// <summary>Hands a spec's steps over as they are and keeps what the ended steps left.</summary>
    private sealed class RecordingSource(JobSpec spec) : IHostStepSource
    {
        public IReadOnlyList<HostStepResult> Done { get; private set; } = [];

        public StepSpec? Next(int n, IReadOnlyList<HostStepResult> done, bool cancelled)
        {
            Done = [.. done];
            return n < spec.Steps.Count ? spec.Steps[n] : null;
        }
    }

    [RootFact]
    public async Task Agent_StepWritesGitHubStateAndSaveState_RunnerGetsBothForThePostStep()
    {
        JobSpec spec = new()
        {
            Name = "state",
            Steps =
            [
                new StepSpec { Name = "save", Run = "echo phase=main >> \"$GITHUB_STATE\"; printf 'dir<<EOF\\n/tmp/x\\nEOF\\n' >> \"$GITHUB_STATE\"; echo '::save-state name=pid::42'" },
                new StepSpec { Name = "fresh", Run = "test ! -s \"$GITHUB_STATE\" && echo fresh state file" },
            ],
        };
        var source = new RecordingSource(spec);
        var loop = new HostStepLoop(source, new Lines());
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), First(loop, spec));

        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop) { Commands = new WorkflowCommandReader() };
        await pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;

        Assert.Equal(new JobEnd(true, 0), pump.End);
        HostStepResult save = source.Done[0];
        Assert.Equal([new("phase", "main"), new("dir", "/tmp/x")], GuestCommandFiles.ParseEntries(save.Files.State));
        Assert.Equal([new("pid", "42")], save.Commands!.State);
        Assert.Equal(0, source.Done[1].ExitCode); // every step gets a fresh, empty $GITHUB_STATE
    }

    /// <summary>Runs <paramref name="spec"/> host-driven through the real agent: what the console said and the steps left.</summary>
    private async Task<(Lines Lines, RecordingSource Source, JobEnd? End)> RunAgentAsync(JobSpec spec, string setup = "")
    {
        var lines = new Lines();
        var source = new RecordingSource(spec);
        var loop = new HostStepLoop(source, lines);
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), First(loop, spec));

        using Process agent = StartAgent(ns.Name, setup);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        await pump.RunAsync(agent.StandardOutput.BaseStream, Path.Combine(_dir, "job.log"), Ct).WaitAsync(TimeSpan.FromSeconds(60), Ct);
        await agent.WaitForExitAsync(Ct);
        if (lines.Errors.Count == 0)
        {
            await handing;
        }

        return (lines, source, pump.End);
    }

    [RootFact]
    public async Task Agent_JobUserAndHostname_StepsRunAsThatUserUnderThatNameAndWriteTheirCommandFiles()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED); // the step's user reaches its command files under it, as under the guest's /tmp
        }
        JobSpec spec = new()
        {
            Name = "user", User = "4321:4322", Hostname = "box.example",
            Steps =
            [
                new StepSpec { Name = "who", Run = "echo \"id=$(id -u):$(id -g) host=$(uname -n) home=$HOME\"; echo \"who=$(id -u)\" >> \"$GITHUB_OUTPUT\"" },
            ],
        };

        (Lines lines, RecordingSource source, JobEnd? end) = await RunAgentAsync(spec);

        string log = string.Join('\n', lines.All);
        Assert.True(end == new JobEnd(true, 0), log + string.Join('\n', lines.Errors));
        Assert.Contains("id=4321:4322 host=box.example home=/", log, StringComparison.Ordinal);
        Assert.Equal([new("who", "4321")], GuestCommandFiles.ParseEntries(source.Done[0].Files.Output));
    }

    [RootFact]
    public async Task Agent_JobUserByNameWithoutSetpriv_StepsRunAsThatUserThroughBusyboxSu()
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(_dir, (UnixFileMode)0x1ED);
        }

        JobSpec spec = new() { Name = "user", User = "nobody", Steps = [new StepSpec { Name = "who", Run = "echo \"id=$(id -un) X=$X\"", Env = new Dictionary<string, string> { ["X"] = "kept" } }] };

        // as on the minimal image: no util-linux setpriv (a file that is not executable in its place, in the agent's mount namespace)
        (Lines lines, _, JobEnd? end) = await RunAgentAsync(spec, "for p in /usr/bin/setpriv /bin/setpriv; do [ -e \"$p\" ] && mount --bind /dev/null \"$p\"; done");

        string log = string.Join('\n', lines.All);
        Assert.True(end == new JobEnd(true, 0), log + string.Join('\n', lines.Errors));
        Assert.Contains("id=nobody X=kept", log, StringComparison.Ordinal);
    }

    [RootFact]
    public async Task Agent_JobUserMissingFromPasswd_FailsBeforeItsFirstStepWithDockersMessage()
    {
        JobSpec spec = new() { Name = "user", User = "kindling-no-such-user", Steps = [new StepSpec { Name = "never", Run = "echo step ran" }] };

        (Lines lines, _, JobEnd? end) = await RunAgentAsync(spec);

        Assert.Equal(["unable to find user kindling-no-such-user: no matching entries in passwd file"], lines.Errors);
        Assert.False(end!.Succeeded);
        Assert.DoesNotContain("step ran", string.Join('\n', lines.All), StringComparison.Ordinal);
    }

    /// <summary>
    /// The real agent runs a host-driven job to its end: how it ended, the log as written (masked by the agent only:
    /// the pump's masker knows no secret) and every MMDS request.
    /// </summary>
    private async Task<(JobEnd? End, string Log, IReadOnlyList<string> Requests)> RunToEndAsync(HostStepLoop loop, JsonObject tree)
    {
        using NetworkNamespace ns = await NetworkNamespace.CreateAsync(MmdsAddress);
        await using MmdsTestServer mmds = new(ns.Listen(new IPEndPoint(IPAddress.Parse(MmdsAddress), 80)), loop.FirstMmds(tree));
        using Process agent = StartAgent(ns.Name);
        Task handing = loop.RunAsync(new ServedVm(mmds), Ct);
        var pump = new LogPump(new SecretMasker([]), loop);
        string logPath = Path.Combine(_dir, "job.log");
        await pump.RunAsync(agent.StandardOutput.BaseStream, logPath, Ct).WaitAsync(TimeSpan.FromSeconds(120), Ct);
        await agent.WaitForExitAsync(Ct);
        await handing;
        return (pump.End, await File.ReadAllTextAsync(logPath, Ct), [.. mmds.Requests]);
    }

    /// <summary>The agent as GuestRun runs it (network namespace with MMDS, private mount and PID namespaces), its output streamed.</summary>
    private Process StartAgent(string netns, string setup = "")
    {
        string script = Path.Combine(_dir, "agent-run.sh");
        File.WriteAllText(script, $"mount -t proc proc /proc; {setup}\nexec /bin/busybox sh '{AgentPath}' 2>&1\n");
        var psi = new ProcessStartInfo("ip") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in (string[])["netns", "exec", netns, "env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KINDLING_AGENT_NO_REBOOT=1",
                     "KINDLING_BUSYBOX=/bin/busybox", "KINDLING_CMDLINE=", $"KINDLING_FILES_DIR={Path.Combine(_dir, "steps")}",
                     $"KINDLING_SCRIPTS_DIR={Path.Combine(_dir, "scripts")}",
                     "unshare", "--mount", "--pid", "--uts", "--fork", "--propagation", "private", "sh", script])
        {
            psi.ArgumentList.Add(a);
        }

        return Process.Start(psi)!;
    }
}
