using Kindling.Runner.Replay;
using Kindling.Runner.Replay.Workflows;
using Kindling.Testing;

namespace Kindling.Runner.Tests.Replay;

/// <summary>The workflow corpus under Replay/Workflows (read from the source tree) and fixed replay inputs.</summary>
internal static class ReplayCorpus
{
    public static string Directory => Path.Combine(RepoPaths.Root, "tests", "Kindling.Runner.Tests", "Replay");
    public static string Workflows => Path.Combine(Directory, "Workflows");
    public static string Invalid => Path.Combine(Workflows, "invalid");
    public static string Snapshots => Path.Combine(Directory, "Snapshots");
    public static string Events => Path.Combine(Directory, "Events");

    /// <summary>A corpus workflow, named in messages by its file name only (deterministic output).</summary>
    public static Workflow Load(string file) => WorkflowParser.Parse(File.ReadAllText(Path.Combine(Workflows, file)), file);

    public static readonly SourceInfo Source = new()
    {
        Root = "/home/dev/app", IsGit = true, Sha = "8f14e45fceea167a5a36dedd4bea2543a1d1c2b3", Ref = "refs/heads/main",
        Repository = "octo-org/app", Actor = "octocat",
    };

    public static ReplayInputs Inputs(params (string Name, string Value)[] secrets) => new()
    {
        Source = Source,
        Secrets = secrets.ToDictionary(s => s.Name, s => s.Value),
    };

    public static IEnumerable<string> ValidFiles() =>
        System.IO.Directory.EnumerateFiles(Workflows, "*.yml").Select(Path.GetFileName).Order(StringComparer.Ordinal)!;
}
