using Kindling.Runner.Jobs;
using Kindling.Testing.Architecture;

namespace Kindling.Runner.Tests.Architecture;

/// <summary>
/// The runner's layering rules (issue 19 item 5), held by the build: every type each type of the runner assembly
/// refers to, in signatures and in method bodies (lambdas and async state machines included), read from the
/// assembly's metadata and IL.
/// </summary>
public sealed class LayeringTests
{
    private static readonly Lazy<TypeDependencies> Runner = new(() => TypeDependencies.Of(typeof(JobLifecycle).Assembly));

    /// <summary>
    /// Web's references to Forges today; issue 19 item 4 moves the webhook to Forges/GitHub and re-run/cancel to a
    /// Jobs service, then this list is empty. A new reference fails the test, and so does a listed one that is gone
    /// (delete it here: the list only shrinks).
    /// </summary>
    private static readonly string[] KnownWebToForges =
    [
        "Kindling.Runner.Web.FleetActions -> Kindling.Runner.Forges.ForgeRegistry",
        "Kindling.Runner.Web.FleetActions -> Kindling.Runner.Forges.IForge",
        "Kindling.Runner.Web.FleetActions -> Kindling.Runner.Forges.JobSpec",
        "Kindling.Runner.Web.FleetActions -> Kindling.Runner.Forges.Local.LocalForge", // the downcast for re-run/cancel
        "Kindling.Runner.Web.FleetQueries -> Kindling.Runner.Forges.JobSpec",
        "Kindling.Runner.Web.FleetQueries -> Kindling.Runner.Forges.StepSpec",
        "Kindling.Runner.Web.GitHubWebhook -> Kindling.Runner.Forges.GitHub.GitHubJson", // the webhook parses GitHub JSON in Web
        "Kindling.Runner.Web.GitHubWebhook -> Kindling.Runner.Forges.GitHub.WebhookRepository",
        "Kindling.Runner.Web.GitHubWebhook -> Kindling.Runner.Forges.GitHub.WorkflowJob",
        "Kindling.Runner.Web.GitHubWebhook -> Kindling.Runner.Forges.GitHub.WorkflowJobEvent",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.ForgeRegistry",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.GitHubForge",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.WebhookRepository",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.WorkflowJob",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.WorkflowJobEvent",
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.IForge",
    ];

    /// <summary>
    /// The folder edges on a cycle today, each with a type reference that makes it; issue 19 item 4 removes them
    /// (the issue names Forges/Jobs, Jobs/Scheduling, Jobs/Telemetry and Cli/Web; Configuration is in the knot as
    /// well, since the composition root RunnerComposition sits beside KindlingOptions, which every folder reads).
    /// A new cycle fails the test, and so does a listed edge that is gone (delete it here: the list only shrinks).
    /// </summary>
    private static readonly string[] KnownCyclicEdges =
    [
        "Cli -> Configuration", // Cli.DemoCommand -> Configuration.KindlingOptions
        "Cli -> Forges", // Cli.DemoCommand -> Forges.ForgeRegistry
        "Cli -> Jobs", // Cli.DemoCommand -> Jobs.JobLifecycle
        "Cli -> Launch", // Cli.DemoCommand -> Launch.GuestImages
        "Cli -> Replay", // Cli.ReplayConsole -> Replay.IReplayPrompter
        "Cli -> Scheduling", // Cli.DemoCommand -> Scheduling.JobDispatcher
        "Cli -> Web", // Cli.DemoCommand -> Web.WebCredentials
        "Configuration -> Forges", // Configuration.RunnerComposition -> Forges.ForgeRegistry
        "Configuration -> Jobs", // Configuration.RunnerComposition -> Jobs.JobCancellations
        "Configuration -> Launch", // Configuration.RunnerComposition -> Launch.DirectoryImageProvider
        "Configuration -> Scheduling", // Configuration.RunnerComposition -> Scheduling.HostDrain
        "Configuration -> Telemetry", // Configuration.RunnerComposition -> Telemetry.KindlingMetrics
        "Configuration -> Web", // Configuration.KindlingOptionsValidator -> Web.WebAuth
        "Forges -> Configuration", // Forges.ForgeRegistry -> Configuration.KindlingOptions
        "Forges -> Jobs", // Forges.GitHub.GitHubForge -> Jobs.JobRecord
        "Jobs -> Configuration", // Jobs.JobReaper -> Configuration.KindlingOptions
        "Jobs -> Forges", // Jobs.JobReaper -> Forges.ForgeRegistry
        "Jobs -> Launch", // Jobs.JobReaper -> Launch.GuestNetwork
        "Jobs -> Scheduling", // Jobs.DaemonService -> Scheduling.JobDispatcher
        "Jobs -> Telemetry", // Jobs.JobRunner -> Telemetry.KindlingMetrics
        "Launch -> Configuration", // Launch.VmmLauncher -> Configuration.JailOptions
        "Launch -> Forges", // Launch.MmdsTree -> Forges.JobSpec
        "Replay -> Configuration", // Replay.JobRerun -> Configuration.KindlingOptions
        "Replay -> Forges", // Replay.DryRunPrinter -> Forges.JobSpec
        "Replay -> Jobs", // Replay.JobRerun -> Jobs.JobRecord
        "Replay -> Launch", // Replay.GitSource -> Launch.WorkspaceTree
        "Scheduling -> Configuration", // Scheduling.HostDrain -> Configuration.KindlingOptions
        "Scheduling -> Forges", // Scheduling.JobDispatcher -> Forges.ForgeJob
        "Scheduling -> Jobs", // Scheduling.JobDispatcher -> Jobs.IllegalTransitionException
        "Scheduling -> Telemetry", // Scheduling.JobDispatcher -> Telemetry.KindlingMetrics
        "Telemetry -> Jobs", // Telemetry.KindlingMetrics -> Jobs.JobLifecycle
        "Web -> Cli", // Web.FleetQueries -> Cli.RunningVm
        "Web -> Configuration", // Web.AdminWeb -> Configuration.KindlingOptions
        "Web -> Forges", // Web.FleetActions -> Forges.ForgeRegistry
        "Web -> Jobs", // Web.AdminApi -> Jobs.JobLifecycle
        "Web -> Launch", // Web.AdminApi -> Launch.ImageFile
        "Web -> Scheduling", // Web.FleetActions -> Scheduling.HostDrain
    ];

    [Fact]
    public void Runner_ReferenceVmmAssemblies_Never()
    {
        // The project reference to Kindling.Vmm.Cli only builds kindling-vmm beside kindling; the runner talks to the
        // VMM through the process contract (config JSON, API socket, FIFOs).
        var vmm = Runner.Value.AssemblyReferences
            .Where(a => a.StartsWith("Kindling.Vmm", StringComparison.OrdinalIgnoreCase) || a.StartsWith("kindling-vmm", StringComparison.OrdinalIgnoreCase))
            .ToArray();
        if (vmm.Length > 0)
        {
            Assert.Fail($"{Runner.Value.AssemblyName} must not reference a VMM assembly (issue 19 item 5); it references {string.Join(", ", vmm)}");
        }
    }

    [Fact]
    public void Runner_ReferenceVmmTypes_Never() =>
        ArchitectureAssert.NoReferences(
            Runner.Value,
            from: [""],
            to: ["Kindling.Vmm"],
            why: "issue 19 item 5: the runner reaches the VMM only through the process contract");

    [Fact]
    public void Web_ReferenceForges_OnlyTheKnownOnes() =>
        ArchitectureAssert.KnownReferences(
            Runner.Value,
            from: ["Kindling.Runner.Web"],
            to: ["Kindling.Runner.Forges"],
            allowed: KnownWebToForges,
            why: "issue 19 items 4 and 5");

    [Fact]
    public void Folders_Cycles_OnlyTheKnownOnes() =>
        ArchitectureAssert.KnownCycles(new FolderGraph(Runner.Value, "Kindling.Runner"), KnownCyclicEdges, "issue 19 item 4");
}
