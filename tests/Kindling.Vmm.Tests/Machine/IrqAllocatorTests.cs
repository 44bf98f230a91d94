using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class IrqAllocatorTests
{
    [Fact]
    public void Allocate_All_GivesGsi5To23ThenThrows()
    {
        var allocator = new IrqAllocator();

        uint[] gsis = [.. Enumerable.Range(0, 19).Select(_ => allocator.Allocate())];

        Assert.Equal(Enumerable.Range(5, 19).Select(i => (uint)i), gsis);
        InvalidOperationException e = Assert.Throws<InvalidOperationException>(() => allocator.Allocate());
        Assert.Contains("GSI 5..23", e.Message, StringComparison.Ordinal);
    }
}
