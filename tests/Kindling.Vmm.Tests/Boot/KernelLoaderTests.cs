using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class KernelLoaderTests : IDisposable
{
    private const ulong MiB = 1 << 20;
    private const ulong KernelVirtualBase = 0xffff_ffff_8100_0000;
    private readonly TempFiles _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void Load_ElfWithBss_CopiesSegmentToPaddrAndZeroesBss()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        memory.GetSpan(new GuestAddress(0x200000 + 0x100), 0x100).Fill(0xee); // stale bytes where bss goes
        byte[] text = TestBzImage.Pattern(0x100);
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x200000 }.Load(KernelVirtualBase, 0x200000, text, 0x200).Build());

        LoadedKernel k = KernelLoader.Load(memory, path);

        Assert.Equal(KernelFormat.Elf, k.Format);
        Assert.Equal(new GuestAddress(0x200000), k.EntryPoint);
        Assert.Equal(new GuestAddress(0x200000), k.LoadStart);
        Assert.Equal(new GuestAddress(0x200200), k.LoadEnd);
        Assert.Equal(text, memory.GetSpan(new GuestAddress(0x200000), 0x100).ToArray());
        Assert.All(memory.GetSpan(new GuestAddress(0x200100), 0x100).ToArray(), b => Assert.Equal(0, b));
        Assert.Null(k.Header);
    }

    [Fact]
    public void Load_ElfWithVirtualEntry_TranslatedThroughSegment()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        string path = _temp.Write("vmlinux", new TestElf { Entry = KernelVirtualBase + 0x40 }
            .Load(KernelVirtualBase, 0x1000000, new byte[0x100], 0x100).Build());

        LoadedKernel k = KernelLoader.Load(memory, path);

        Assert.Equal(new GuestAddress(0x1000040), k.EntryPoint);
    }

    [Fact]
    public void Load_ElfWithPvhNote_RecordsPvhEntry()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x200000 }
            .Load(0x200000, 0x200000, new byte[0x10], 0x10).Note(TestElf.PvhNote(0x200008)).Build());

        LoadedKernel k = KernelLoader.Load(memory, path);

        Assert.Equal(new GuestAddress(0x200008), k.PvhEntryPoint);
    }

    [Fact]
    public void Load_Elf32_RejectedNamingClass()
    {
        string path = _temp.Write("vmlinux32", new TestElf { Class = 1, Entry = 0x200000 }.Load(0x200000, 0x200000, new byte[16], 16).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("32-bit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfForAarch64_RejectedNamingMachine()
    {
        string path = _temp.Write("vmlinux-arm", new TestElf { Machine = 183, Entry = 0x200000 }.Load(0x200000, 0x200000, new byte[16], 16).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("machine 183", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfSegmentBeyondRam_TooBigForMemory()
    {
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x1000000 }.Load(0x1000000, 0x1000000, new byte[16], 32 * MiB).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("does not fit in guest memory", e.Message, StringComparison.Ordinal);
        Assert.Contains("mem_size_mib", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfSecondSegmentBeyondRam_NothingWritten()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x200000 }
            .Load(0x200000, 0x200000, TestBzImage.Pattern(64), 64)
            .Load(0x1f00000, 0x1f00000, new byte[16], 2 * MiB).Build());

        Assert.Throws<BootException>(() => KernelLoader.Load(memory, path));

        Assert.All(memory.GetSpan(new GuestAddress(0x200000), 64).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Load_ElfSegmentBelow1MiB_Rejected()
    {
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x7000 }.Load(0x7000, 0x7000, new byte[16], 16).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("below 1 MiB", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfFileszAboveMemsz_Rejected()
    {
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x200000 }.Load(0x200000, 0x200000, new byte[64], 16).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("p_filesz", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfCutInHalf_Truncated()
    {
        byte[] elf = new TestElf { Entry = 0x200000 }.Load(0x200000, 0x200000, new byte[4096], 4096).Build();
        string path = _temp.Write("vmlinux", elf[..(elf.Length / 2)]);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("is truncated", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ElfEntryOutsideSegments_Rejected()
    {
        string path = _temp.Write("vmlinux", new TestElf { Entry = 0x900000 }.Load(0x200000, 0x200000, new byte[16], 16).Build());

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("e_entry 0x900000", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BzImage_ProtectedModePartAt1MiBEntryAt0x100200()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        byte[] kernel = TestBzImage.Pattern(8192);
        string path = _temp.Write("bzImage", TestBzImage.Build(kernel));

        LoadedKernel k = KernelLoader.Load(memory, path);

        Assert.Equal(KernelFormat.BzImage, k.Format);
        Assert.Equal(new GuestAddress(0x100200), k.EntryPoint);
        Assert.Equal(new GuestAddress(0x100000), k.LoadStart);
        Assert.Equal(new GuestAddress(0x100_0000 + 8192), k.LoadEnd); // decompresses at pref_address, init_size long
        Assert.Equal(kernel, memory.GetSpan(new GuestAddress(0x100000), kernel.Length).ToArray());
        Assert.Equal((ushort)0x020f, k.Header!.Value.Version);
    }

    [Fact]
    public void Load_BzImageInitSizeBeyondRam_TooBigForMemory()
    {
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[4096], h => h with { InitSize = (uint)(64 * MiB) }));

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("does not fit in guest memory", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BzImageRelocatableAboveLoadPhysicalAddr_RunsAtAlignedLoadAddress()
    {
        var memory = new FakeGuestMemory(32 * MiB);
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[4096], h => h with
        {
            PrefAddress = 0x10_0000, KernelAlignment = 0x20_0000, InitSize = 0x30_0000,
        }));

        LoadedKernel k = KernelLoader.Load(memory, path);

        Assert.Equal(new GuestAddress(0x20_0000 + 0x30_0000), k.LoadEnd);
    }

    [Fact]
    public void Load_BzImageProtocol205_RejectedWithVersion()
    {
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[4096], h => h with { Version = 0x0205 }));

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("boot protocol 2.05", e.Message, StringComparison.Ordinal);
        Assert.Contains("2.06", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BzImageProtocol210_RejectedAsPredatingXloadflags()
    {
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[4096], h => h with { Version = 0x020a }));

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("boot protocol 2.10, older than 2.12", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BzImageWithout64BitEntry_RejectedNamingXloadflags()
    {
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[4096], h => h with { XLoadFlags = 0 }));

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("XLF_KERNEL_64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BzImageCutShort_Truncated()
    {
        byte[] image = TestBzImage.Build(new byte[8192]);
        string path = _temp.Write("bzImage", image[..(image.Length - 4096)]);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("is truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingFile_SaysDoesNotExist()
    {
        string path = Path.Combine(_temp.Root, "nope");

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Equal($"kernel {path} does not exist: check the path", e.Message);
    }

    [Fact]
    public void Load_EmptyFile_SaysEmpty()
    {
        string path = _temp.Write("empty", []);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Equal($"kernel {path} is empty", e.Message);
    }

    [Fact]
    public void Load_RandomBytes_NeitherElfNorBzImage()
    {
        string path = _temp.Write("junk", TestBzImage.Pattern(4096));

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(32 * MiB), path));

        Assert.Contains("neither an ELF vmlinux", e.Message, StringComparison.Ordinal);
        Assert.Contains(path, e.Message, StringComparison.Ordinal);
    }
}
