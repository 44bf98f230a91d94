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
    /// Web's references to Forges: only the GitHub webhook's route, which Web maps to the receiver in Forges/GitHub.
    /// A new reference fails the test, and so does a listed one that is gone (delete it here: the list only shrinks).
    /// </summary>
    private static readonly string[] KnownWebToForges =
    [
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.GitHubWebhook", // maps /webhooks/github
    ];

    /// <summary>
    /// The folder edges on a cycle today, each with a type reference that makes it. Forges/Jobs, Jobs/Scheduling,
    /// Jobs/Telemetry and Cli/Web are gone (issue 19 item 4); what is left runs through Configuration: the composition
    /// root RunnerComposition sits beside KindlingOptions, which every folder reads, and the validator checks Web's
    /// password hashes. A new cycle fails the test, and so does a listed edge that is gone (delete it here: the list
    /// only shrinks).
    /// </summary>
    private static readonly string[] KnownCyclicEdges =
    [
        "Configuration -> Forges", // Configuration.RunnerComposition -> Forges.ForgeRegistry
        "Configuration -> Jobs", // Configuration.RunnerComposition -> Jobs.JobActions
        "Configuration -> Launch", // Configuration.RunnerComposition -> Launch.DirectoryImageProvider
        "Configuration -> Scheduling", // Configuration.RunnerComposition -> Scheduling.HostDrain
        "Configuration -> Web", // Configuration.KindlingOptionsValidator -> Web.WebAuth
        "Forges -> Configuration", // Forges.ForgeRegistry -> Configuration.KindlingOptions
        "Jobs -> Configuration", // Jobs.JobReaper -> Configuration.KindlingOptions
        "Jobs -> Forges", // Jobs.ForgeJobs -> Forges.ForgeJobRef
        "Jobs -> Launch", // Jobs.JobReaper -> Launch.GuestNetwork
        "Launch -> Configuration", // Launch.VmmLauncher -> Configuration.JailOptions
        "Scheduling -> Configuration", // Scheduling.HostDrain -> Configuration.KindlingOptions
        "Scheduling -> Forges", // Scheduling.JobDispatcher -> Forges.ForgeJob
        "Scheduling -> Jobs", // Scheduling.JobDispatcher -> Jobs.IllegalTransitionException
        "Web -> Configuration", // Web.AdminWeb -> Configuration.KindlingOptions
        "Web -> Forges", // Web.RunnerEndpoints -> Forges.GitHub.GitHubWebhook
        "Web -> Jobs", // Web.AdminApi -> Jobs.JobLifecycle
        "Web -> Launch", // Web.AdminApi -> Launch.ImageFile
        "Web -> Scheduling", // Web.FleetActions -> Scheduling.HostDrain
    ];

    /// <summary>
    /// The folder pairs that refer to each other both ways: only Configuration's, until the composition root leaves it.
    /// Issue 19 item 4 removed Forges/Jobs, Jobs/Scheduling, Jobs/Telemetry and Cli/Web; one that comes back fails here
    /// by name, even where the cycle list above would not say which pair.
    /// </summary>
    private static readonly string[] KnownMutualPairs =
    [
        "Configuration <-> Forges",
        "Configuration <-> Jobs",
        "Configuration <-> Launch",
        "Configuration <-> Scheduling",
        "Configuration <-> Web",
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

    [Fact]
    public void Folders_MutualReferences_OnlyTheKnownOnes()
    {
        var graph = new FolderGraph(Runner.Value, "Kindling.Runner");
        Assert.Equal(KnownMutualPairs, graph.MutualPairs());
    }
}
