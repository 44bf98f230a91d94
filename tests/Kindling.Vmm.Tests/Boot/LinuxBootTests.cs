using System.Runtime.InteropServices;
using System.Text;
using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

public sealed class LinuxBootTests : IDisposable
{
    private const ulong MiB = 1 << 20;
    private readonly TempFiles _temp = new();

    public void Dispose() => _temp.Dispose();

    private static LoadedKernel ElfKernel => new(
        KernelFormat.Elf, new GuestAddress(0x1000000), new GuestAddress(0x1000000), new GuestAddress(0x2000000));

    private static BootParams ReadBootParams(IGuestMemory memory) => memory.Read<BootParams>(new GuestAddress(BootLayout.ZeroPageStart));

    [Fact]
    public void WriteBootParams_Cmdline_WrittenAtCmdlineStartNulTerminatedAndPointedTo()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        memory.GetSpan(new GuestAddress(BootLayout.CmdlineStart), 64).Fill(0xaa);
        const string cmdline = "console=ttyS0 reboot=k panic=1 pci=off";

        GuestAddress zeroPage = LinuxBoot.WriteBootParams(memory, ElfKernel, cmdline, null, BootLayout.BuildE820(memory));

        Assert.Equal(new GuestAddress(BootLayout.ZeroPageStart), zeroPage);
        byte[] written = memory.GetSpan(new GuestAddress(BootLayout.CmdlineStart), cmdline.Length + 1).ToArray();
        Assert.Equal(Encoding.ASCII.GetBytes(cmdline + "\0"), written);
        BootParams bp = ReadBootParams(memory);
        Assert.Equal((uint)BootLayout.CmdlineStart, bp.Hdr.CmdLinePtr);
        Assert.Equal(0u, bp.ExtCmdLinePtr);
        Assert.Equal((uint)cmdline.Length, bp.Hdr.CmdlineSize);
    }

    [Fact]
    public void WriteBootParams_Elf_MinimalHeaderLikeFirecracker()
    {
        var memory = new FakeGuestMemory(64 * MiB);

        LinuxBoot.WriteBootParams(memory, ElfKernel, "x", null, BootLayout.BuildE820(memory));

        BootParams bp = ReadBootParams(memory);
        Assert.Equal(SetupHeader.BootFlagMagic, bp.Hdr.BootFlag);
        Assert.Equal(SetupHeader.HeaderMagic, bp.Hdr.Header);
        Assert.Equal(SetupHeader.TypeOfLoaderUndefined, bp.Hdr.TypeOfLoader);
        Assert.Equal(0x0100_0000u, bp.Hdr.KernelAlignment);
        Assert.Equal(0u, bp.Hdr.RamdiskImage);
        Assert.Equal(0u, bp.Hdr.RamdiskSize);
        Assert.Equal(0, bp.Sentinel);
        // The raw bytes agree with the documented offsets.
        Span<byte> raw = memory.GetSpan(new GuestAddress(BootLayout.ZeroPageStart), 4096);
        Assert.Equal("HdrS"u8.ToArray(), raw.Slice(0x202, 4).ToArray());
        Assert.Equal(0xff, raw[0x210]);
        Assert.Equal(0x55, raw[0x1fe]);
        Assert.Equal(0xaa, raw[0x1ff]);
    }

    [Fact]
    public void WriteBootParams_E820_EqualsBuildE820()
    {
        var memory = new FakeGuestMemory(128 * MiB);
        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        LinuxBoot.WriteBootParams(memory, ElfKernel, "", null, e820);

        BootParams bp = ReadBootParams(memory);
        Assert.Equal(e820.Count, bp.E820Entries);
        var table = new List<E820Entry>();
        for (int i = 0; i < bp.E820Entries; i++)
        {
            table.Add(new E820Entry(bp.E820Table[i].Addr, bp.E820Table[i].Size, (E820Type)bp.E820Table[i].Type));
        }

        Assert.Equal(e820, table);
        Span<byte> raw = memory.GetSpan(new GuestAddress(BootLayout.ZeroPageStart + 0x2d0 + 20), 20);
        Assert.Equal(0x100000UL, MemoryMarshal.Read<ulong>(raw));
        Assert.Equal(1u, MemoryMarshal.Read<uint>(raw[16..]));
    }

    [Fact]
    public void WriteBootParams_Initrd_RamdiskFieldsSet()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        var initrd = new GuestRegion(new GuestAddress(0x3f00000), 0x12345);

        LinuxBoot.WriteBootParams(memory, ElfKernel, "", initrd, BootLayout.BuildE820(memory));

        BootParams bp = ReadBootParams(memory);
        Assert.Equal(0x3f00000u, bp.Hdr.RamdiskImage);
        Assert.Equal(0x12345u, bp.Hdr.RamdiskSize);
        Assert.Equal(0u, bp.ExtRamdiskImage);
    }

    [Fact]
    public void WriteBootParams_BzImage_CopiesItsSetupHeaderAndSetsLoaderFields()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[8192]));
        LoadedKernel kernel = KernelLoader.Load(memory, path);

        LinuxBoot.WriteBootParams(memory, kernel, "console=ttyS0", null, BootLayout.BuildE820(memory));

        BootParams bp = ReadBootParams(memory);
        SetupHeader original = kernel.Header!.Value;
        Assert.Equal(original.Version, bp.Hdr.Version);
        Assert.Equal(original.InitSize, bp.Hdr.InitSize);
        Assert.Equal(original.PayloadOffset, bp.Hdr.PayloadOffset);
        Assert.Equal(original.XLoadFlags, bp.Hdr.XLoadFlags);
        Assert.Equal(original.CmdlineSize, bp.Hdr.CmdlineSize);
        Assert.Equal(SetupHeader.TypeOfLoaderUndefined, bp.Hdr.TypeOfLoader);
        Assert.Equal(SetupHeader.LoadedHigh | SetupHeader.CanUseHeap, bp.Hdr.LoadFlags);
        Assert.Equal(LinuxBoot.HeapEndPtr, bp.Hdr.HeapEndPtr);
        Assert.Equal((uint)BootLayout.CmdlineStart, bp.Hdr.CmdLinePtr);
    }

    [Fact]
    public void WriteBootParams_CmdlineLongerThanTheKernelsBuffer_Rejected()
    {
        // An ELF vmlinux has no cmdline_size: the kernel's COMMAND_LINE_SIZE (2048 with the NUL) is the limit, not
        // the VMM's 4 KiB area, of which the kernel would silently read only the first 2047 bytes.
        var memory = new FakeGuestMemory(64 * MiB);
        string cmdline = new('a', KernelCommandLine.Size);

        var e = Assert.Throws<BootException>(
            () => LinuxBoot.WriteBootParams(memory, ElfKernel, cmdline, null, BootLayout.BuildE820(memory)));

        Assert.Contains("boot_args is 2048 bytes; at most 2047 fit (x86 COMMAND_LINE_SIZE 2048 with its NUL)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteBootParams_CmdlineLongerThanKernelCmdlineSize_Rejected()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        string path = _temp.Write("bzImage", TestBzImage.Build(new byte[8192], h => h with { CmdlineSize = 255 }));
        LoadedKernel kernel = KernelLoader.Load(memory, path);

        var e = Assert.Throws<BootException>(
            () => LinuxBoot.WriteBootParams(memory, kernel, new string('a', 256), null, BootLayout.BuildE820(memory)));

        Assert.Contains("at most 255 fit", e.Message, StringComparison.Ordinal);
        Assert.Contains("cmdline_size", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WriteBootParams_MaximalCmdline_Accepted()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        string cmdline = new('a', KernelCommandLine.MaxLength);

        LinuxBoot.WriteBootParams(memory, ElfKernel, cmdline, null, BootLayout.BuildE820(memory));

        Assert.Equal((byte)'a', memory.Read<byte>(new GuestAddress(BootLayout.CmdlineStart + KernelCommandLine.MaxLength - 1)));
        Assert.Equal(0, memory.Read<byte>(new GuestAddress(BootLayout.CmdlineStart + KernelCommandLine.MaxLength)));
    }

    [Fact]
    public void WriteBootParams_TooManyE820Entries_Rejected()
    {
        var memory = new FakeGuestMemory(64 * MiB);
        var e820 = Enumerable.Range(0, 129).Select(i => new E820Entry((ulong)i << 20, 1 << 20, E820Type.Ram)).ToList();

        Assert.Throws<BootException>(() => LinuxBoot.WriteBootParams(memory, ElfKernel, "", null, e820));
    }
}
