// The other half of a folder cycle for TypeDependenciesTests.FolderGraph_MutualReferences_AreOneCyclicGroup.
#pragma warning disable CA1812, CA1822

namespace Kindling.Vmm.Tests.Architecture.ProbesB;

internal sealed class Back
{
    public object User() => new Probes.User();
}
