using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Memory;

public sealed class GuestMemoryMmapFileTests : IDisposable
{
    private const ulong Page = X86MemoryLayout.PageSize;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"kindling-mem-{Guid.NewGuid():N}.mem");

    public void Dispose() => File.Delete(_path);

    private static GuestRegion[] TwoRegions => [new(GuestAddress.Zero, 4 * Page), new(new GuestAddress(16 * Page), 2 * Page)];

    private IReadOnlyList<FileBackedRegion> Dump(GuestMemoryMmap memory)
    {
        using var file = new FileStream(_path, FileMode.Create, FileAccess.Write);
        return memory.WriteTo(file);
    }

    [Fact]
    public void MapPrivateFile_WhatWriteToSaved_GuestSeesTheSameBytes()
    {
        using GuestMemoryMmap original = GuestMemoryMmap.Create(TwoRegions);
        original.Write(new GuestAddress(3), 0x1122334455667788UL);
        original.Write(new GuestAddress((16 * Page) + 8), (byte)0x99);
        IReadOnlyList<FileBackedRegion> layout = Dump(original);

        using GuestMemoryMmap restored = GuestMemoryMmap.MapPrivateFile(_path, layout);

        Assert.Equal(0x1122334455667788UL, restored.Read<ulong>(new GuestAddress(3)));
        Assert.Equal(0x99, restored.Read<byte>(new GuestAddress((16 * Page) + 8)));
        Assert.Equal(TwoRegions, restored.Regions);
        Assert.Equal([0UL, 4 * Page], layout.Select(r => r.FileOffset));
    }

    [Fact]
    public void MapPrivateFile_GuestWrites_StayPrivateToTheClone()
    {
        using (GuestMemoryMmap original = GuestMemoryMmap.Create(TwoRegions))
        {
            original.Write(new GuestAddress(0), 7UL);
            Dump(original);
        }

        IReadOnlyList<FileBackedRegion> layout = [new(TwoRegions[0], 0), new(TwoRegions[1], 4 * Page)];
        byte[] before = File.ReadAllBytes(_path);
        using GuestMemoryMmap first = GuestMemoryMmap.MapPrivateFile(_path, layout);
        using GuestMemoryMmap second = GuestMemoryMmap.MapPrivateFile(_path, layout);

        first.Write(new GuestAddress(0), 42UL);

        Assert.Equal(42UL, first.Read<ulong>(GuestAddress.Zero));
        Assert.Equal(7UL, second.Read<ulong>(GuestAddress.Zero));
        Assert.Equal(before, File.ReadAllBytes(_path));
    }

    [Fact]
    public void MapPrivateFile_TruncatedMemoryFile_RefusedNamingTheFile()
    {
        File.WriteAllBytes(_path, new byte[5 * Page]);
        IReadOnlyList<FileBackedRegion> layout = [new(TwoRegions[0], 0), new(TwoRegions[1], 4 * Page)];

        GuestMemoryException e = Assert.Throws<GuestMemoryException>(() => GuestMemoryMmap.MapPrivateFile(_path, layout));

        Assert.Contains("truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains(_path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapPrivateFile_RegionWrappingTheAddressSpace_RefusedBeforeMapping()
    {
        File.WriteAllBytes(_path, new byte[4 * Page]);
        var wrapping = new GuestRegion(new GuestAddress(ulong.MaxValue - Page + 1), 2 * Page);

        GuestMemoryException e = Assert.Throws<GuestMemoryException>(() => GuestMemoryMmap.MapPrivateFile(_path, [new(wrapping, 0)]));

        Assert.Contains("wraps around", e.Message, StringComparison.Ordinal);
        Assert.Contains(_path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapPrivateFile_OverlappingRegions_Refused()
    {
        File.WriteAllBytes(_path, new byte[8 * Page]);
        IReadOnlyList<FileBackedRegion> layout = [new(new GuestRegion(GuestAddress.Zero, 4 * Page), 0), new(new GuestRegion(new GuestAddress(2 * Page), 2 * Page), 4 * Page)];

        Assert.Contains("overlap", Assert.Throws<GuestMemoryException>(() => GuestMemoryMmap.MapPrivateFile(_path, layout)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapPrivateFile_UnalignedFileOffset_Refused()
    {
        File.WriteAllBytes(_path, new byte[8 * Page]);

        Assert.Contains("not page aligned", Assert.Throws<GuestMemoryException>(() =>
            GuestMemoryMmap.MapPrivateFile(_path, [new(TwoRegions[0], 8)])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapPrivateFile_MissingFile_Refused() =>
        Assert.Contains("cannot be opened", Assert.Throws<GuestMemoryException>(() =>
            GuestMemoryMmap.MapPrivateFile(_path + ".missing", [new(TwoRegions[0], 0)])).Message, StringComparison.Ordinal);
}
