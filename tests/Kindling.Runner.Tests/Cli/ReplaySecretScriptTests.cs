using Kindling.Runner.Cli;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Tests.Replay;
using Microsoft.Extensions.DependencyInjection;

namespace Kindling.Runner.Tests.Cli;

/// <summary>
/// <c>kindling replay</c> of a workflow that writes secrets into its scripts where no variable expands (single
/// quotes, a quoted heredoc, python), on the stub launcher: each step's own grep/cmp/assert passes only when the
/// guest put the value into the script text, and the value is in no output, job spec or log on the host.
/// </summary>
public sealed class ReplaySecretScriptTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kindling-replay-secrets-").FullName;
    private readonly StringWriter _out = new();
    private readonly StringWriter _err = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Replay_SecretsInSingleQuotesHeredocAndPython_EachStepsCheckPassesAndValuesNeverOnTheHost()
    {
        string repo = Path.Combine(_root, "repo");
        string state = Path.Combine(_root, "state");
        Directory.CreateDirectory(Path.Combine(repo, ".github", "workflows"));
        await File.WriteAllTextAsync(Path.Combine(repo, ".github", "workflows", "ci.yml"), SecretScriptWorkflow.Yaml, Ct);
        var io = new ReplayConsole
        {
            Out = _out, Error = _err, CurrentDirectory = repo, Environment = _ => null,
            Services = s =>
            {
                s.AddSingleton<IVmLauncher>(new StubVmLauncher(TimeSpan.Zero));
                s.AddSingleton<IImageProvider>(new PlaceholderImageProvider(Path.Combine(state, "images")));
            },
        };
        string[] secrets = [.. SecretScriptWorkflow.Secrets.SelectMany(s => (string[])["-s", $"{s.Name}={s.Value}"])];

        int exit = await ReplayCommand.Build(io).Parse([.. secrets, "--worktree", "--state", state, "--launcher", "stub"]).InvokeAsync(cancellationToken: Ct);

        string output = _out.ToString();
        Assert.True(exit == 0, output + _err);
        Assert.Contains("  printed: ***", output, StringComparison.Ordinal);
        Assert.Contains("+ v=***", output, StringComparison.Ordinal);
        Assert.Contains("  heredoc exact", output, StringComparison.Ordinal);
        Assert.Contains("  script gone", output, StringComparison.Ordinal);
        Assert.Contains("  python exact", output, StringComparison.Ordinal);
        Assert.Contains("  custom shell file in the step's tmp", output, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, output + _err, StringComparison.Ordinal);
        JobRecord job = new JobStore(Path.Combine(state, "kindling.db"), TimeProvider.System).Get(1)!;
        Assert.Contains("%%kindling-secret:KEY%%", job.SpecJson!, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, job.SpecJson!, StringComparison.Ordinal);
        Assert.DoesNotContain(SecretScriptWorkflow.Key, await File.ReadAllTextAsync(job.LogPath!, Ct), StringComparison.Ordinal);
        Assert.DoesNotContain("[1, 2]", await File.ReadAllTextAsync(job.LogPath!, Ct), StringComparison.Ordinal);
    }
}
