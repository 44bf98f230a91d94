using System.CommandLine;
using Kindling.Runner.Cli;
using Kindling.Runner.Tests.Replay;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling replay -l/-n</c> through the command line on a plain directory of workflows (no VM, no git): which
/// workflows an event plans, and what a dry run says about jobs it cannot expand yet.
/// </summary>
public sealed class ReplayDryRunTests : IDisposable
{
    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-replay-dryrun-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayDryRunTests()
    {
        string workflows = Path.Combine(_repo, ".github", "workflows");
        Directory.CreateDirectory(workflows);
        foreach (string file in (string[])["stub-demo.yml", "dispatch.yml", "matrix-from-needs.yml"])
        {
            File.Copy(Path.Combine(ReplayCorpus.Workflows, file), Path.Combine(workflows, file));
        }
    }

    private async Task<int> Replay(params string[] args)
    {
        var io = new ReplayConsole { Out = _out, Error = _err, CurrentDirectory = _repo, Environment = _ => null };
        return await ReplayCommand.Build(io).Parse([.. args, "--state", Path.Combine(_repo, ".state")]).InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task List_EventName_OnlyWorkflowsItTriggers()
    {
        Assert.Equal(0, await Replay("-l", "--event-name", "workflow_dispatch"));

        string[] rows = _out.ToString().TrimEnd().Split('\n')[1..];
        Assert.NotEmpty(rows);
        Assert.All(rows, r => Assert.Contains("dispatch.yml", r, StringComparison.Ordinal));
    }

    [Fact]
    public async Task DryRun_EventNoWorkflowHas_RefusedNamingEachWorkflowsEvents()
    {
        Assert.Equal(ReplaySession.ExitUsage, await Replay("-n", "--event-name", "schedule"));

        string error = _err.ToString();
        Assert.Contains("--event-name schedule: no workflow is triggered by schedule", error, StringComparison.Ordinal);
        Assert.Contains("stub-demo.yml runs on push", error, StringComparison.Ordinal);
        Assert.Contains("dispatch.yml runs on workflow_dispatch", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DryRun_MatrixFromNeedsOutput_PlansTheNeededJobAndSaysWhenTheOtherIsPlanned()
    {
        Assert.Equal(0, await Replay("-n", "-W", Path.Combine(_repo, ".github", "workflows", "matrix-from-needs.yml")));

        string output = _out.ToString();
        Assert.Contains("job targets: targets", output, StringComparison.Ordinal);
        Assert.Contains("job build: planned when its needs have run: ", output, StringComparison.Ordinal);
        Assert.Contains("strategy.matrix comes from needs (targets)", output, StringComparison.Ordinal);
        Assert.DoesNotContain("cannot be replayed", output, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _out.Dispose();
        _err.Dispose();
        Directory.Delete(_repo, recursive: true);
    }
}
