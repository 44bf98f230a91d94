using System.Text;
using Kindling.Runner.Logs;

namespace Kindling.Runner.Tests.Logs;

/// <summary>GitHub's workflow commands on a step's output: the reader, and the log pump acting on them.</summary>
public sealed class WorkflowCommandReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-commands-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Read_SetOutputWithEscapes_NamePropertyAndValueUnescaped()
    {
        WorkflowCommand c = new WorkflowCommandReader().Read("::set-output name=a%3Ab%2Cc::50%25%0Adone")!;

        Assert.Equal(WorkflowCommand.SetOutput, c.Name);
        Assert.Equal("a:b,c", c.Property("name"));
        Assert.Equal("50%\ndone", c.Value);
    }

    [Theory]
    [InlineData("echo ::set-output name=x::y")]
    [InlineData("::unknown::value")]
    [InlineData("::set-output name=x")]
    [InlineData(":: set-output name=x::y")]
    public void Read_NotACommand_Null(string line) => Assert.Null(new WorkflowCommandReader().Read(line));

    [Fact]
    public void Read_StopCommands_NothingIsACommandUntilTheTokenLine()
    {
        var r = new WorkflowCommandReader();

        Assert.Equal(WorkflowCommand.StopCommands, r.Read("::stop-commands::pause-42")!.Name);
        Assert.Null(r.Read("::set-output name=x::ignored"));
        Assert.Null(r.Read("::pause-41::"));
        Assert.Null(r.Read("::pause-42::"));
        Assert.Equal("taken", r.Read("::set-output name=x::taken")!.Value);
    }

    [Fact]
    public void Read_StopCommandsThenNextStep_ProcessingResumes()
    {
        var r = new WorkflowCommandReader();
        r.Read("::stop-commands::t");
        r.StepStarted();

        Assert.NotNull(r.Read("::warning::careful"));
    }

    private sealed class Commands : ILogObserver
    {
        public List<string> Lines { get; } = [];
        public List<string> Seen { get; } = [];
        public void OnLine(long offset, string maskedLine) => Lines.Add(maskedLine);
        public void OnWorkflowCommand(int n, WorkflowCommand command) => Seen.Add($"{n} {command.Name} {command.Property("name")}={command.Value}");
    }

    private async Task<(Commands Observer, string Log)> PumpAsync(string text, bool allowUnsecure = false)
    {
        var observer = new Commands();
        string path = Path.Combine(_dir, "job.log");
        var pump = new LogPump(new SecretMasker(["s3cr3t"]), observer) { Commands = new WorkflowCommandReader(), UnsecureCommandsAllowed = _ => allowUnsecure };
        await pump.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(text)), path, Ct);
        return (observer, await File.ReadAllTextAsync(path, Ct));
    }

    [Fact]
    public async Task Pump_AddMask_ItsOwnLineAndLaterLinesMasked()
    {
        (Commands o, string log) = await PumpAsync(
            "##kindling[step-start n=0 name=YQ]\n::add-mask::hunter2\nthe password is hunter2\n::set-output name=p::hunter2 and s3cr3t\n##kindling[step-end n=0 exit=0 seconds=0.10]\n");

        Assert.DoesNotContain("hunter2", log, StringComparison.Ordinal);
        Assert.Contains("::add-mask::***", log, StringComparison.Ordinal);
        Assert.Contains("the password is ***", o.Lines);
        Assert.Equal(["0 add-mask =***", "0 set-output p=*** and ***"], o.Seen);
    }

    [Fact]
    public async Task Pump_SetEnvNotAllowed_RefusedWithTheReasonInTheLog()
    {
        (Commands o, string log) = await PumpAsync("##kindling[step-start n=1 name=YQ]\n::set-env name=A::b\n::add-path::/opt/x\n##kindling[step-end n=1 exit=0 seconds=0.10]\n");

        Assert.Contains("kindling: the `set-env` command is disabled: use $GITHUB_ENV instead", log, StringComparison.Ordinal);
        Assert.Contains("kindling: the `add-path` command is disabled: use $GITHUB_PATH instead", log, StringComparison.Ordinal);
        Assert.All(o.Seen, s => Assert.StartsWith("1 error", s, StringComparison.Ordinal));
        Assert.Equal(2, o.Seen.Count);
    }

    [Fact]
    public async Task Pump_SetEnvAllowed_GivenToTheObserver()
    {
        (Commands o, _) = await PumpAsync("##kindling[step-start n=0 name=YQ]\n::set-env name=A::b\n##kindling[step-end n=0 exit=0 seconds=0.10]\n", allowUnsecure: true);

        Assert.Equal(["0 set-env A=b"], o.Seen);
    }

    [Fact]
    public async Task Pump_CommandOutsideAStep_PlainOutput()
    {
        (Commands o, string log) = await PumpAsync("::add-mask::booted\nbooted\n");

        Assert.Empty(o.Seen);
        Assert.Contains("\nbooted\n", log, StringComparison.Ordinal);
    }
}
