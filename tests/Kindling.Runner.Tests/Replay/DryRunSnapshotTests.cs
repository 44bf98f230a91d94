using System.Text.Json.Nodes;
using Kindling.Runner.Cli;
using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Tests.Replay;

/// <summary>
/// The dry run of every corpus workflow against fixed inputs, compared with Replay/Snapshots/NAME.txt.
/// After an intended change: KINDLING_UPDATE_SNAPSHOTS=1 dotnet test --filter DryRunSnapshotTests, then review the diff.
/// </summary>
public sealed class DryRunSnapshotTests
{
    public const string UpdateVariable = "KINDLING_UPDATE_SNAPSHOTS";

    public static TheoryData<string> Workflows() => [.. ReplayCorpus.ValidFiles()];

    [Theory]
    [MemberData(nameof(Workflows))]
    public void Print_CorpusWorkflow_MatchesSnapshot(string file)
    {
        string actual = DryRun(file);
        string snapshot = Path.Combine(ReplayCorpus.Snapshots, Path.ChangeExtension(file, ".txt"));
        if (Environment.GetEnvironmentVariable(UpdateVariable) == "1")
        {
            File.WriteAllText(snapshot, actual);
        }

        Assert.True(File.Exists(snapshot), $"no snapshot {snapshot}: run the test with {UpdateVariable}=1 and review it");
        Assert.Equal(File.ReadAllText(snapshot), actual);
    }

    [Fact]
    public void Print_SameInputsTwice_Identical() => Assert.Equal(DryRun("node-ci.yml"), DryRun("node-ci.yml"));

    [Fact]
    public void Print_GivenSecret_ValueNeverPrinted() => Assert.DoesNotContain(NpmToken, DryRun("release.yml"), StringComparison.Ordinal);

    private const string NpmToken = "npm_s3cr3t_T0KEN";

    /// <summary>The per-workflow inputs of the snapshots: an event file and secrets where the workflow is about them.</summary>
    private static ReplayInputs InputsFor(string file, Workflow wf)
    {
        ReplayInputs inputs = ReplayCorpus.Inputs() with { Vars = [new("REGION", "us-east-2")] };
        (string? eventFile, (string, string)[] secrets) = file switch
        {
            "release.yml" => ("tag-push.json", [("NPM_TOKEN", NpmToken)]),
            "dispatch.yml" => ("dispatch.json", []),
            "stub-demo.yml" => (null, [("API_TOKEN", "api-token-value")]),
            _ => ((string?)null, Array.Empty<(string, string)>()),
        };
        ExprValue ev = eventFile is null ? ExprValue.Object([]) : ExprValue.FromJson(JsonNode.Parse(File.ReadAllText(Path.Combine(ReplayCorpus.Events, eventFile))));
        return inputs with
        {
            Event = ev, EventName = ReplaySession.EventName(ev, wf),
            Secrets = secrets.ToDictionary(s => s.Item1, s => s.Item2),
        };
    }

    private static string DryRun(string file)
    {
        Workflow wf = ReplayCorpus.Load(file);
        var sb = new System.Text.StringBuilder();
        foreach (WorkflowJob job in wf.Jobs)
        {
            try
            {
                sb.Append(DryRunPrinter.Print(ReplayPlanner.Plan(wf, job.Id, InputsFor(file, wf))));
            }
            catch (NeedsFirstException e)
            {
                sb.Append($"job {job.Id}: planned when its needs have run: {e.Message}\n\n");
            }
            catch (ReplayException e)
            {
                sb.Append($"job {job.Id}: cannot be replayed: {e.Message}\n\n");
            }
        }

        return sb.ToString();
    }
}
