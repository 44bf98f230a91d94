using Kindling.Testing.Architecture;

namespace Kindling.Vmm.Tests.Architecture;

/// <summary>
/// Kindling.Vmm.Contract's rules (issue 19 item 1), held by the build: the process contract between the runner and
/// kindling-vmm references nothing of Kindling (so the runner can use it without reaching the VMM's internals) and
/// holds no behaviour that touches the host.
/// </summary>
public sealed class ContractLayeringTests
{
    private static readonly Lazy<TypeDependencies> Contract = new(() => TypeDependencies.Of(typeof(VmConfig).Assembly));

    [Fact]
    public void Contract_IsItsOwnAssembly()
    {
        Assert.Equal("Kindling.Vmm.Contract", Contract.Value.AssemblyName);
        Assert.NotEqual(typeof(VmConfig).Assembly, typeof(Kindling.Vmm.Config.VmConfigValidator).Assembly);
    }

    [Fact]
    public void Contract_ReferenceKindlingAssemblies_Never()
    {
        string[] kindling = [.. Contract.Value.AssemblyReferences.Where(a => a.StartsWith("Kindling", StringComparison.OrdinalIgnoreCase) || a.StartsWith("kindling", StringComparison.Ordinal))];

        Assert.True(kindling.Length == 0, $"Kindling.Vmm.Contract must reference no Kindling assembly; it references {string.Join(", ", kindling)}");
    }

    [Fact]
    public void Contract_ReferenceKindlingTypesOutsideItself_Never()
    {
        string[] outside = [.. Contract.Value.Edges([""], ["Kindling"]).Where(e => !TypeDependencies.IsIn(e.Split(" -> ")[1], "Kindling.Vmm.Contract"))];

        Assert.True(outside.Length == 0, $"Kindling.Vmm.Contract must reference nothing of Kindling (issue 19 item 1):\n  {string.Join("\n  ", outside)}");
    }

    [Fact]
    public void Contract_ReferenceFilesSocketsOrNativeCode_Never() =>
        ArchitectureAssert.NoReferences(
            Contract.Value,
            from: [""],
            to: ["System.IO", "System.Net", "System.Runtime.InteropServices", "Microsoft.Win32.SafeHandles"],
            why: "issue 19 item 1: records and constants only; reading and writing them is each side's business");
}
