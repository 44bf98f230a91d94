using System.Text.RegularExpressions;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// Local actions that an earlier step writes at run time (<c>uses: ./dir</c> with no action.yml in the workspace
/// before boot, where an earlier step's script names one, as act's tests do with <c>shell: cp {0} action.yml</c>).
/// The replay cannot read them before boot, and GitHub reads an action when its step comes: the step becomes a load
/// step that the guest runs in its turn, copying the action's metadata file into its $GITHUB_OUTPUT; the runner
/// reads it from that step's step-files line (images/guest/PROTOCOL.md, "Local actions written at run time"), and
/// <see cref="ReplayStepSource"/> plans the action's steps then (composite, or JavaScript where the image has node).
/// </summary>
internal static partial class RuntimeActions
{
    /// <summary>The load step's output that carries the metadata file's text.</summary>
    public const string OutputName = "kindling_action_yml";

    /// <summary>Ends the metadata file's text in $GITHUB_OUTPUT (GitHub's NAME&lt;&lt;DELIMITER form).</summary>
    private const string Delimiter = "kindling_action_yml_ends_7c1e4b";

    private static readonly string[] ManifestNames = ["action.yml", "action.yaml", "Dockerfile"];

    /// <summary>The earlier workflow step whose script or shell names an action manifest (writes one at run time), or null.</summary>
    public static WorkflowStep? Writer(WorkflowJob job, WorkflowStep s) =>
        job.Steps.Where(w => w.Number < s.Number)
            .FirstOrDefault(w => ((string?[])[w.Run, w.Shell]).Any(t => t is not null && ManifestNames.Any(m => t.Contains(m, StringComparison.Ordinal))));

    /// <summary>Whether what <paramref name="writer"/> writes is a Docker action (a Dockerfile, or runs.using docker).</summary>
    public static bool WritesDocker(WorkflowStep writer) =>
        ((string?[])[writer.Run, writer.Shell]).Any(t => t is not null && (t.Contains("Dockerfile", StringComparison.Ordinal) || UsingDocker().IsMatch(t)));

    /// <summary>The step that loads <paramref name="uses"/> in the guest when its turn comes (its if: is the workflow step's).</summary>
    public static PlannedStep LoadStep(WorkflowStep s, StepConditions outer, string name, string uses, WorkflowStep writer) => new()
    {
        Number = s.Number, Name = name, Kind = PlannedStepKind.LoadAction, Uses = uses, IfSource = s.If, PartOfAction = true,
        Notes = [$"{uses} is written at run time by step {writer.Number}: when this step comes the guest reads its action.yml, " +
                 "and the action's steps are planned and run then (composite, or JavaScript where the image has node; a Docker action fails the step)"],
        Spec = new StepSpec { Name = name, Run = Script(uses), Shell = ShellNames.Sh, If = outer.AgentCondition },
    };

    /// <summary>The load step's script: the manifest into $GITHUB_OUTPUT, or GitHub's message and exit 1 when there is none.</summary>
    internal static string Script(string uses)
    {
        string dir = Directory(uses);
        string quoted = Quote("./" + dir);
        string docker = Quote($"kindling: uses: {uses} is a Docker action (its Dockerfile): Docker actions are not supported by replay (the steps run in the microVM's own userland)");
        return $"d={quoted}\n" +
               "for f in action.yml action.yaml; do\n" +
               "  if [ -f \"$d/$f\" ]; then\n" +
               $"    {{ echo '{OutputName}<<{Delimiter}'; cat \"$d/$f\"; echo; echo '{Delimiter}'; }} >> \"$GITHUB_OUTPUT\"\n" +
               "    exit 0\n" +
               "  fi\n" +
               "done\n" +
               $"if [ -f \"$d/Dockerfile\" ]; then echo {docker} >&2; exit 1; fi\n" +
               $"echo {Quote(ActionSteps.MissingMessage(uses))} >&2\n" +
               "exit 1";
    }

    /// <summary>The metadata text a load step left in its $GITHUB_OUTPUT, or null.</summary>
    public static string? Manifest(string outputFile) =>
        GuestCommandFiles.ParseEntries(outputFile).LastOrDefault(kv => kv.Key == OutputName) is { Key: not null } found ? found.Value : null;

    /// <summary><c>./a/b/</c> → <c>a/b</c> ("" for the workspace itself): the key under which a written manifest is kept.</summary>
    public static string Directory(string uses) => uses[2..].Trim('/');

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [GeneratedRegex(@"using:\s*['""]?docker", RegexOptions.IgnoreCase)]
    private static partial Regex UsingDocker();
}
