using Kindling.Testing.Architecture;

namespace Kindling.Vmm.Tests.Architecture;

/// <summary>The reader behind the layering tests finds references that no signature shows.</summary>
public sealed class TypeDependenciesTests
{
    private static readonly Lazy<TypeDependencies> Tests = new(() => TypeDependencies.Of(typeof(TypeDependenciesTests).Assembly));

    [Theory]
    [InlineData(nameof(Probes.NewedInBody))]
    [InlineData(nameof(Probes.NewedInLambda))]
    [InlineData(nameof(Probes.AwaitedInAsyncMethod))]
    [InlineData(nameof(Probes.GenericArgumentInBody))]
    [InlineData(nameof(Probes.TypeOfInBody))]
    [InlineData(nameof(Probes.StaticFieldInBody))]
    [InlineData(nameof(Probes.CaughtInBody))]
    [InlineData(nameof(Probes.NestedTypeOfTarget))]
    public void Of_ReferenceOnlyInsideMethodBody_IsFound(string target)
    {
        var references = Tests.Value.References[typeof(Probes.User).FullName!];

        Assert.Contains($"{typeof(Probes.User).Namespace}.{target}", references);
    }

    [Fact]
    public void Of_TypeNeverMentioned_IsNotFound()
    {
        var references = Tests.Value.References[typeof(Probes.User).FullName!];

        Assert.DoesNotContain(typeof(Probes.Unused).FullName!, references);
        Assert.DoesNotContain(typeof(Probes.User).FullName!, references);
    }

    [Fact]
    public void Edges_NamespaceAndBelow_NamesBothTypes()
    {
        var edges = Tests.Value.Edges(["Kindling.Vmm.Tests.Architecture.Probes"], ["Kindling.Vmm.Tests.Architecture.Probes"]);

        Assert.Contains($"{typeof(Probes.User).FullName} -> {typeof(Probes.NewedInBody).FullName}", edges);
    }

    [Fact]
    public void FolderGraph_MutualReferences_AreOneCyclicGroup()
    {
        var graph = new FolderGraph(Tests.Value, "Kindling.Vmm.Tests.Architecture");

        Assert.Contains("Probes, ProbesB", graph.CyclicGroups());
        Assert.Contains("Probes <-> ProbesB", graph.MutualPairs());
        Assert.Contains("Probes.User -> Kindling.Vmm.Tests.Architecture.ProbesB.Back", graph.DescribeCycles());
    }
}
