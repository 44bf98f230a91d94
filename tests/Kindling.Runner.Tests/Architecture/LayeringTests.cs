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

    private const string ContractAssembly = "Kindling.Vmm.Contract";

    /// <summary>
    /// Web's references to Forges: only the GitHub webhook's route, which Web maps to the receiver in Forges/GitHub.
    /// A new reference fails the test, and so does a listed one that is gone (delete it here: the list only shrinks).
    /// </summary>
    private static readonly string[] KnownWebToForges =
    [
        "Kindling.Runner.Web.RunnerEndpoints -> Kindling.Runner.Forges.GitHub.GitHubWebhook", // maps /webhooks/github
    ];

    [Fact]
    public void Runner_ReferenceVmmAssemblies_OnlyTheContract()
    {
        // The project reference to Kindling.Vmm.Cli only builds kindling-vmm beside kindling (ReferenceOutputAssembly
        // is false); the runner talks to the VMM through the process contract (config JSON, API socket, FIFOs), typed
        // by Kindling.Vmm.Contract.
        var vmm = Runner.Value.AssemblyReferences
            .Where(a => a.StartsWith("Kindling.Vmm", StringComparison.OrdinalIgnoreCase) || a.StartsWith("kindling-vmm", StringComparison.OrdinalIgnoreCase))
            .ToArray();
        Assert.Contains(ContractAssembly, vmm);
        if (vmm.Length > 1)
        {
            Assert.Fail($"{Runner.Value.AssemblyName} must reference no VMM assembly but {ContractAssembly} (issue 19 items 1 and 5); it references {string.Join(", ", vmm)}");
        }
    }

    [Fact]
    public void Runner_ReferenceVmmTypes_OnlyTheContract()
    {
        var outside = Runner.Value.Edges([""], ["Kindling.Vmm"])
            .Where(e => !TypeDependencies.IsIn(e.Split(" -> ")[1], ContractAssembly))
            .ToArray();
        if (outside.Length > 0)
        {
            Assert.Fail($"the runner reaches the VMM only through {ContractAssembly} (issue 19 items 1 and 5); found:\n  {string.Join("\n  ", outside)}");
        }
    }

    /// <summary>The rule above can fail: the runner does use the contract's types (VmConfigBuilder builds its records).</summary>
    [Fact]
    public void Runner_ReferenceContractTypes_FromLaunch()
    {
        var edges = Runner.Value.Edges(["Kindling.Runner.Launch"], [ContractAssembly]);

        Assert.Contains("Kindling.Runner.Launch.VmConfigBuilder -> Kindling.Vmm.Contract.VmConfig", edges);
    }

    [Fact]
    public void Web_ReferenceForges_OnlyTheKnownOnes() =>
        ArchitectureAssert.KnownReferences(
            Runner.Value,
            from: ["Kindling.Runner.Web"],
            to: ["Kindling.Runner.Forges"],
            allowed: KnownWebToForges,
            why: "issue 19 items 4 and 5");

    /// <summary>
    /// No folder cycles (issue 19 item 4): Forges/Jobs, Jobs/Scheduling, Jobs/Telemetry and Cli/Web went first; the
    /// last ran through Configuration, which the composition root (now Composition/RunnerComposition) and the
    /// validator's use of Web's credential rules (now Configuration/WebCredentialRules) made point back at every folder.
    /// </summary>
    [Fact]
    public void Folders_Cycles_None() =>
        ArchitectureAssert.KnownCycles(new FolderGraph(Runner.Value, "Kindling.Runner"), [], "issue 19 item 4");

    [Fact]
    public void Folders_MutualReferences_None()
    {
        var graph = new FolderGraph(Runner.Value, "Kindling.Runner");
        Assert.Empty(graph.MutualPairs());
    }

    /// <summary>Configuration is read by every folder, so it refers to none but the settings types it binds.</summary>
    [Fact]
    public void Configuration_ReferenceFoldersThatReadIt_Never() =>
        ArchitectureAssert.NoReferences(
            Runner.Value,
            from: ["Kindling.Runner.Configuration"],
            to: ["Kindling.Runner.Web", "Kindling.Runner.Forges", "Kindling.Runner.Jobs", "Kindling.Runner.Launch", "Kindling.Runner.Scheduling", "Kindling.Runner.Cli"],
            why: "issue 19 item 4: the composition root lives in Composition, the credential rules the validator checks in Configuration");

    /// <summary>The cycle rule can fail: the composition root does refer to the folders it wires.</summary>
    [Fact]
    public void Composition_ReferencesTheFoldersItWires()
    {
        var graph = new FolderGraph(Runner.Value, "Kindling.Runner");

        Assert.True(graph.HasEdge("Composition", "Jobs"));
        Assert.True(graph.HasEdge("Composition", "Configuration"));
        Assert.True(graph.HasEdge("Cli", "Composition"));
    }
}
