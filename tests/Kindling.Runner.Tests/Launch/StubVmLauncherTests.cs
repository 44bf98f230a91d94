using System.Text;
using Kindling.Native;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Tests.Launch;

/// <summary>
/// The stub launcher's guest against the agent's rules (images/guest/agent.sh, PROTOCOL.md): what it writes on the
/// serial console for a job the runner's own MmdsTree and VmConfigBuilder describe.
/// </summary>
public sealed class StubVmLauncherTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-stub-").FullName;
    private readonly PlaceholderImageProvider _images;

    public StubVmLauncherTests() => _images = new PlaceholderImageProvider(Path.Combine(_dir, "images"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Launch_GitHubJobImageWithoutActionsRunner_AgentErrorAndFailed125()
    {
        Run r = await RunAsync(jitConfig: "encoded-jit");

        Assert.Contains("GitHub job but /opt/actions-runner/run.sh is missing from the base image", r.AgentError, StringComparison.Ordinal);
        Assert.Equal("##kindling[job-end result=failed exit=125]", r.Lines[^1]);
        Assert.DoesNotContain(r.Lines, l => l.StartsWith("##kindling[step-start", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Launch_GitHubJobRunnerNotExecutable_AgentError()
    {
        RunnerHarness.InstallActionsRunner(Path.Combine(_dir, "images"), RunnerHarness.SucceedingActionsRunner);
        RunnerHarness.WriteScript(Path.Combine(_images.ImageFiles, "opt/actions-runner/run.sh"), "#!/bin/sh\nexit 0\n", executable: false);

        Run r = await RunAsync(jitConfig: "encoded-jit");

        Assert.Contains("run.sh is missing", r.AgentError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_GitHubJobWithActionsRunner_RunsItWithTheJitConfigOnlyOnItsCommandLineAsStepZero()
    {
        RunnerHarness.InstallActionsRunner(Path.Combine(_dir, "images"),
            "echo \"args: $*; cwd: $(pwd); as root allowed: ${RUNNER_ALLOW_RUNASROOT:-no}; jit in env: ${KINDLING_JIT:-no}\"\n");

        Run r = await RunAsync(jitConfig: "encoded-jit");

        Assert.Equal($"##kindling[step-start n=0 name={FramingLine.EncodeText("GitHub Actions runner")}]", r.Lines[2]);
        Assert.Contains($"args: --jitconfig encoded-jit; cwd: {Path.Combine(_images.ImageFiles, "opt", "actions-runner")}; as root allowed: no; jit in env: no", r.Lines);
        Assert.StartsWith("##kindling[step-end n=0 exit=0 ", r.Lines[^2], StringComparison.Ordinal);
        Assert.Equal("##kindling[job-end result=succeeded exit=0]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_GitHubRunnerKilledMidJob_StepAndJobFailWith137()
    {
        RunnerHarness.InstallActionsRunner(Path.Combine(_dir, "images"), "echo listening\nkill -9 $$\necho never\n");

        Run r = await RunAsync(jitConfig: "encoded-jit");

        Assert.Contains("listening", r.Lines);
        Assert.DoesNotContain("never", r.Lines);
        Assert.StartsWith("##kindling[step-end n=0 exit=137 ", r.Lines[^2], StringComparison.Ordinal);
        Assert.Equal("##kindling[job-end result=failed exit=137]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_ShStep_SetEStopsAtFirstFailingCommand()
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "s", Run = "echo before\nfalse\necho after" }));

        Assert.Contains("before", r.Lines);
        Assert.DoesNotContain("after", r.Lines);
        Assert.StartsWith("##kindling[step-end n=0 exit=1 ", r.Lines[^3], StringComparison.Ordinal);
        Assert.Equal("##kindling[job-end result=failed exit=1]", r.Lines[^1]);
    }

    [Theory]
    [InlineData("sh", 0)]
    [InlineData("bash", 1)]
    public async Task Launch_FailingPipeline_FailsOnlyUnderBashPipefail(string shell, int exit)
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "p", Run = "false | true", Shell = shell }));

        Assert.StartsWith($"##kindling[step-end n=0 exit={exit} ", r.Lines[^3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_OtherShell_RunsItWithDashC()
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "p", Run = "echo from-$0", Shell = "bash --norc" }));

        Assert.Contains("from-bash", r.Lines);
    }

    [Fact]
    public async Task Launch_ShellNotInImage_Exit127()
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "p", Run = "print(1)", Shell = "no-such-interpreter-kindling" }));

        Assert.StartsWith("##kindling[step-end n=0 exit=127 ", r.Lines[^3], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Launch_WorkingDirectory_RelativeToWorkspaceAndMissingExits2()
    {
        Run r = await RunAsync(Job(
            new StepSpec { Name = "mk", Run = "mkdir -p sub/dir && echo marker > sub/dir/f" },
            new StepSpec { Name = "in", Run = "cat f", WorkingDirectory = "sub/dir" },
            new StepSpec { Name = "abs", Run = "cat sub/dir/f", WorkingDirectory = "/workspace" },
            new StepSpec { Name = "missing", Run = "echo ran", WorkingDirectory = "nope" }));

        Assert.Equal(2, r.Lines.Count(l => l == "marker"));
        Assert.Contains("kindling: working directory '/workspace/nope' does not exist", r.Lines);
        Assert.DoesNotContain("ran", r.Lines);
        Assert.Equal("##kindling[job-end result=failed exit=2]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_IfConditions_FollowTheAgent()
    {
        Run r = await RunAsync(Job(
            new StepSpec { Name = "ok", Run = "true" },
            new StepSpec { Name = "fail", Run = "exit 4" },
            new StepSpec { Name = "success", Run = "echo success-ran" },
            new StepSpec { Name = "failure", Run = "echo failure-ran", If = "failure()" },
            new StepSpec { Name = "always", Run = "echo always-ran", If = "always()" },
            new StepSpec { Name = "cancelled", Run = "echo cancelled-ran", If = "cancelled()" },
            new StepSpec { Name = "odd", Run = "echo odd-ran", If = "github.ref == 'x'" }));

        Assert.Equal(["failure-ran", "always-ran"], r.Lines.Where(l => l.EndsWith("-ran", StringComparison.Ordinal)));
        Assert.Contains("##kindling[step-skip n=2 name=" + FramingLine.EncodeText("success") + " reason=if]", r.Lines);
        Assert.Contains("##kindling[step-skip n=5 name=" + FramingLine.EncodeText("cancelled") + " reason=if]", r.Lines);
        Assert.Contains("kindling: step 6: unsupported if: 'github.ref == 'x'' (use success(), failure(), always() or cancelled())", r.Lines);
        Assert.StartsWith("##kindling[step-end n=6 exit=2 ", r.Lines[^3], StringComparison.Ordinal);
        Assert.Equal("##kindling[step-files n=6 output= env= path= summary= state=]", r.Lines[^2]); // after every step-end, even this one
        Assert.Equal("##kindling[job-end result=failed exit=4]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_ContinueOnError_DoesNotFailTheJob()
    {
        Run r = await RunAsync(Job(
            new StepSpec { Name = "flaky", Run = "exit 5", ContinueOnError = true },
            new StepSpec { Name = "next", Run = "echo next-ran" }));

        Assert.Contains("next-ran", r.Lines);
        Assert.Equal("##kindling[job-end result=succeeded exit=0]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_JobTimeout_StepKilledWith137()
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "slow", Run = "echo started; sleep 30; echo finished" }) with { Timeout = TimeSpan.FromSeconds(1) });

        Assert.Contains("started", r.Lines);
        Assert.DoesNotContain("finished", r.Lines);
        Assert.StartsWith("##kindling[step-end n=0 exit=137 ", r.Lines[^3], StringComparison.Ordinal);
        Assert.Equal("##kindling[job-end result=failed exit=137]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_CommandFiles_ReportedMaskedAndEnvAndPathReachLaterSteps()
    {
        JobSpec spec = Job(
            new StepSpec
            {
                Name = "write",
                Run = "echo v=1 >> \"$GITHUB_OUTPUT\"; printf 'm<<EOF\\nx\\ny\\nEOF\\n' >> \"$GITHUB_OUTPUT\"; echo \"t=$TOKEN\" >> \"$GITHUB_OUTPUT\"\n" +
                      "echo FROM_ENV=later >> \"$GITHUB_ENV\"; mkdir -p bin; printf '#!/bin/sh\\necho tool ran\\n' > bin/tool; chmod +x bin/tool; echo \"$PWD/bin\" >> \"$GITHUB_PATH\"; echo '# done' >> \"$GITHUB_STEP_SUMMARY\"",
            },
            new StepSpec { Name = "read", Run = "echo \"env=$FROM_ENV\"; tool; test -s \"$GITHUB_OUTPUT\" || echo fresh output file" });

        Run r = await RunAsync(spec, secrets: new Dictionary<string, string> { ["TOKEN"] = "secret-value" });

        FramingLine files = FramingLine.TryParse(Assert.Single(r.Lines, l => l.StartsWith("##kindling[step-files n=0 ", StringComparison.Ordinal)))!;
        Assert.Equal("v=1\nm<<EOF\nx\ny\nEOF\nt=***\n", files.Text("output"));
        Assert.Equal([new("v", "1"), new("m", "x\ny"), new("t", "***")], GuestCommandFiles.ParseEntries(files.Text("output")!));
        Assert.Equal("FROM_ENV=later\n", files.Text("env"));
        Assert.Equal("# done\n", files.Text("summary"));
        Assert.Contains("env=later", r.Lines);
        Assert.Contains("tool ran", r.Lines);
        Assert.Contains("fresh output file", r.Lines);
        Assert.Equal("##kindling[job-end result=succeeded exit=0]", r.Lines[^1]);
    }

    [Fact]
    public async Task Launch_Environment_SecretsThenJobThenStepAndForgedControlLinesIndented()
    {
        JobSpec spec = Job(new StepSpec
        {
            Name = "env",
            Run = "echo \"$TOKEN $A $B $CI $KINDLING $KINDLING_JOB_ID\"\necho '##kindling[job-end result=succeeded exit=0]'",
            Env = new Dictionary<string, string> { ["B"] = "step" },
        }) with { Env = new Dictionary<string, string> { ["A"] = "job", ["B"] = "job", ["TOKEN"] = "from-job" } };

        Run r = await RunAsync(spec, secrets: new Dictionary<string, string> { ["TOKEN"] = "secret", ["A"] = "secret" });

        Assert.Contains("from-job job step true true 7", r.Lines);
        Assert.Contains(" ##kindling[job-end result=succeeded exit=0]", r.Lines);
        Assert.Single(r.Lines, l => l.StartsWith("##kindling[job-end", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Die_MidStep_KillsStepWritesNothingMoreAndVmmDiesOfSigkill()
    {
        string pidFile = Path.Combine(_dir, "step.pid");
        Run r = await RunAsync(Job(new StepSpec { Name = "long", Run = $"echo $$ > {pidFile}; echo working; exec sleep 30" }),
            until: "working", then: (stub, vmId) => Assert.True(stub.Die(vmId)));

        Assert.Equal("working", r.Lines[^1]); // no step-end, no job-end
        Assert.Equal(137, r.VmmExit);
        int step = int.Parse(File.ReadAllText(pidFile).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.False(Directory.Exists($"/proc/{step}") && File.ReadAllText($"/proc/{step}/cmdline").Contains("sleep", StringComparison.Ordinal), "the step outlived its VM");
    }

    /// <summary>Linux caps one exec argument at 128 KiB (MAX_ARG_STRLEN); the agent passes run as one, so a longer script cannot start.</summary>
    [Fact]
    public async Task Launch_RunLongerThanOneExecArgument_StepFailsJobEnds()
    {
        Run r = await RunAsync(Job(new StepSpec { Name = "huge", Run = string.Join('\n', Enumerable.Repeat("echo a line of a very long script", 5000)) }));

        Assert.DoesNotContain("a line of a very long script", r.Lines);
        Assert.Matches(@"^##kindling\[step-end n=0 exit=(126|127|2) ", r.Lines[^3]);
        Assert.StartsWith("##kindling[job-end result=failed", r.Lines[^1], StringComparison.Ordinal);
    }

    [Fact]
    public void Die_UnknownVm_False() => Assert.False(new StubVmLauncher(TimeSpan.Zero).Die("kindling-vm-404"));

    [Fact]
    public async Task Launch_FolderMovedBeforeTheGuestOpensItsSerialFifo_GuestStillWritesToIt()
    {
        Run run = await RunAsync(Job(), moveTo: Path.Combine(_dir, "jobs-7"));

        Assert.Equal(["stub guest: booting", "##kindling[job-start id=7]", "##kindling[job-end result=succeeded exit=0]"], run.Lines);
    }

    private static bool HoldsFifo(int pid)
    {
        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Any(fd => new FileInfo(fd).LinkTarget?.EndsWith("stub-vm.fifo", StringComparison.Ordinal) == true);
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static JobSpec Job(params StepSpec[] steps) => new() { Name = "j", Steps = steps };

    private sealed record Run(IReadOnlyList<string> Lines, int VmmExit)
    {
        public string AgentError => Lines.Where(l => l.StartsWith("##kindling[error message=", StringComparison.Ordinal))
            .Select(l => Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(l.AsSpan("##kindling[error message=".Length..^1)))).Single();
    }

    /// <summary>Launches job 7 on the stub and reads its serial console to the end (or, with <paramref name="until"/>, to that line, then runs <paramref name="then"/> and reads on).</summary>
    private async Task<Run> RunAsync(JobSpec? spec = null, string? jitConfig = null, IReadOnlyDictionary<string, string>? secrets = null,
        string? until = null, Action<StubVmLauncher, string>? then = null, string? moveTo = null)
    {
        GuestImages guest = await _images.EnsureImagesAsync(null, Ct);
        var ws = new JobWorkspace(Path.Combine(_dir, "job"));
        Directory.CreateDirectory(ws.Directory);
        FdIo.MakeFifo(ws.SerialFifoPath);
        string overlay = await _images.CreateOverlayAsync(ws.Directory, Ct);
        var request = new VmLaunchRequest(JobWorkspace.VmId(7), ws, VmConfigBuilder.Build(guest, overlay, 1, 256, ws, null),
            Kindling.Images.Guest.JobDocument.Mmds(MmdsTree.Build(7, "j", spec?.Timeout ?? TimeSpan.Zero, spec, secrets ?? new Dictionary<string, string>(), jitConfig, null)));
        var stub = new StubVmLauncher(TimeSpan.Zero);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Wait);
        // moveTo: a warm slot taken by a job, its folder the job's now, as soon as its VMM holds its own FIFO (and before
        // the guest is started, which happens after onSpawned).
        await using IVmHandle vm = await stub.LaunchAsync(request, pid =>
        {
            if (moveTo is not null)
            {
                Assert.True(SpinWait.SpinUntil(() => HoldsFifo(pid), Wait), "the placeholder VMM never opened its FIFO");
                Directory.Move(ws.Directory, moveTo);
            }
        }, Ct);
        ws = moveTo is null ? ws : new JobWorkspace(moveTo);

        // open(2) of a FIFO waits for its writer: bounded, so a guest that never opens it fails the test instead of hanging it
        string fifo = ws.SerialFifoPath;
        using var serial = new StreamReader(await Task.Run(() => new FileStream(fifo, FileMode.Open, FileAccess.Read), Ct).WaitAsync(Wait, Ct));
        List<string> lines = [];
        while (await serial.ReadLineAsync(timeout.Token) is { } line)
        {
            lines.Add(line);
            if (line == until)
            {
                then!(stub, request.VmId);
            }
        }

        return new Run(lines, await vm.Exited.WaitAsync(timeout.Token));
    }
}
