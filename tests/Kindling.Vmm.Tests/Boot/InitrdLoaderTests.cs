using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class InitrdLoaderTests : IDisposable
{
    private const ulong MiB = 1 << 20;
    private readonly TempFiles _temp = new();

    public void Dispose() => _temp.Dispose();

    private static LoadedKernel Kernel(ulong end, uint initrdAddrMax = 0) => new(
        KernelFormat.BzImage, new GuestAddress(0x100200), new GuestAddress(0x100000), new GuestAddress(end))
    {
        Header = initrdAddrMax == 0 ? null : new SetupHeader { InitrdAddrMax = initrdAddrMax },
    };

    [Fact]
    public void Load_PlacesInitrdAtTopOfRamPageAligned()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        byte[] content = TestBzImage.Pattern(10_000);
        string path = _temp.Write("initrd", content);

        GuestRegion region = InitrdLoader.Load(memory, path, Kernel(8 * MiB));

        Assert.Equal((64 * MiB - 10_000) & ~0xfffUL, region.Start.Value);
        Assert.Equal(10_000UL, region.Size);
        Assert.Equal(content, memory.GetSpan(region.Start, content.Length).ToArray());
    }

    [Fact]
    public void Load_BelowInitrdAddrMax()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        string path = _temp.Write("initrd", new byte[4096]);

        GuestRegion region = InitrdLoader.Load(memory, path, Kernel(8 * MiB, initrdAddrMax: (uint)(32 * MiB) - 1));

        Assert.Equal(32 * MiB - 4096, region.Start.Value);
    }

    [Fact]
    public void Load_EmptyInitrd_Rejected()
    {
        string path = _temp.Write("initrd", []);

        var e = Assert.Throws<BootException>(() => InitrdLoader.Load(new FakeGuestMemory(16 * MiB), path, Kernel(8 * MiB)));

        Assert.Equal($"initrd {path} is empty", e.Message);
    }

    [Fact]
    public void Load_InitrdBiggerThanFreeRam_TooBig()
    {
        var memory = new FakeGuestMemory(16 * MiB);
        string path = _temp.Write("initrd", new byte[9 * MiB]);

        var e = Assert.Throws<BootException>(() => InitrdLoader.Load(memory, path, Kernel(8 * MiB)));

        Assert.Contains($"initrd {path} is too big", e.Message, StringComparison.Ordinal);
        Assert.Contains("mem_size_mib", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_InitrdFillingFreeRamExactly_FitsAboveKernel()
    {
        var memory = new FakeGuestMemory(16 * MiB);
        string path = _temp.Write("initrd", new byte[8 * MiB]);

        GuestRegion region = InitrdLoader.Load(memory, path, Kernel(8 * MiB));

        Assert.Equal(8 * MiB, region.Start.Value);
    }

    [Fact]
    public void Load_MissingInitrd_NamesFile()
    {
        string path = Path.Combine(_temp.Root, "missing.cpio");

        var e = Assert.Throws<BootException>(() => InitrdLoader.Load(new FakeGuestMemory(16 * MiB), path, Kernel(8 * MiB)));

        Assert.Equal($"initrd {path} does not exist: check the path", e.Message);
    }
}
