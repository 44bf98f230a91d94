using System.CommandLine;
using Kindling.Runner.Cli;

namespace Kindling.Runner.Tests.Cli;

/// <summary><c>kindling replay -l/-n</c> on a workflow that calls a local reusable workflow (no VM, no git).</summary>
public sealed class ReplayReusableWorkflowTests : IDisposable
{
    private readonly string _repo = Directory.CreateTempSubdirectory("kindling-replay-reusable-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public ReplayReusableWorkflowTests()
    {
        Directory.CreateDirectory(Path.Combine(_repo, ".github", "workflows"));
        File.WriteAllText(Path.Combine(_repo, ".github", "workflows", "lint.yml"), """
            on:
              workflow_call:
                inputs:
                  strict: {type: boolean, required: true}
            jobs:
              check:
                runs-on: ubuntu-latest
                steps:
                  - run: echo "strict=${{ inputs.strict }}"
            """);
        File.WriteAllText(Path.Combine(_repo, "main.yml"), """
            on: push
            jobs:
              lint:
                uses: ./.github/workflows/lint.yml
                with: {strict: true}
              broken:
                uses: ./.github/workflows/missing.yml
            """);
    }

    public void Dispose() => Directory.Delete(_repo, recursive: true);

    private async Task<int> Replay(params string[] args)
    {
        var io = new ReplayConsole { Out = _out, Error = _err, CurrentDirectory = _repo, Environment = _ => null };
        return await ReplayCommand.Build(io).Parse([.. args, "-W", Path.Combine(_repo, "main.yml"), "-C", _repo, "--state", Path.Combine(_repo, ".state")])
            .InvokeAsync(cancellationToken: TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task List_LocalReusableWorkflow_CalleeJobsListedAsCallerSlashJob()
    {
        Assert.Equal(0, await Replay("-l"));

        string[] ids = [.. _out.ToString().TrimEnd().Split('\n')[1..].Select(r => r.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1])];
        Assert.Equal(["lint/check", "broken", "lint"], ids);
    }

    [Fact]
    public async Task DryRun_LocalReusableWorkflow_CalleeJobPlannedWithInputsAndMissingCalleeReported()
    {
        Assert.Equal(ReplaySession.ExitUsage, await Replay("-n"));

        string output = _out.ToString();
        Assert.Contains("job lint/check: lint/check", output, StringComparison.Ordinal);
        Assert.Contains("echo \"strict=true\"", output, StringComparison.Ordinal);
        Assert.Contains("job lint: calls the reusable workflow ./.github/workflows/lint.yml: runs as lint/check", output, StringComparison.Ordinal);
        Assert.Contains("job broken: cannot be replayed: main.yml: jobs.broken.uses: ./.github/workflows/missing.yml: .github/workflows/missing.yml does not exist in the repository", output, StringComparison.Ordinal);
    }
}
