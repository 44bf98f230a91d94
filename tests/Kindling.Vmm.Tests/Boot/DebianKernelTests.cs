using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Kindling.Testing;
using Kindling.Vmm.Boot;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>The loaders against the real Debian cloud kernel (fetched once into the test cache by <see cref="DebianKernel"/>).</summary>
public sealed class DebianKernelTests : IDisposable
{
    private const ulong MiB = 1 << 20;
    private const ulong GuestRam = 128 * MiB; // Firecracker's default; the kernel needs up to ~67 MiB
    private readonly TempFiles _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void BzImageHeader_Parsed_ModernProtocolWith64BitEntryAndLz4Payload()
    {
        byte[] image = File.ReadAllBytes(DebianKernel.BzImagePath);
        SetupHeader h = MemoryMarshal.Read<SetupHeader>(image.AsSpan(SetupHeader.Offset));

        Assert.Equal(SetupHeader.HeaderMagic, h.Header);
        Assert.Equal(SetupHeader.BootFlagMagic, h.BootFlag);
        Assert.True(h.Version >= 0x020f, $"boot protocol {h.VersionText}");
        Assert.NotEqual(0, h.XLoadFlags & SetupHeader.XlfKernel64);
        Assert.Equal(1, h.RelocatableKernel);
        Assert.True(h.PayloadLength > 1 * MiB, $"payload_length {h.PayloadLength}");
        Assert.True(h.SetupSize + h.PayloadOffset + h.PayloadLength <= image.Length);
        Assert.Equal([0x02, 0x21, 0x4c, 0x18], image.AsSpan(h.SetupSize + (int)h.PayloadOffset, 4).ToArray());
        Assert.True(h.InitSize > h.PayloadLength, $"init_size {h.InitSize}");
    }

    [Fact]
    public void Load_DebianBzImage_At1MiBWithEntry0x100200()
    {
        var memory = new FakeGuestMemory(GuestRam);
        byte[] image = File.ReadAllBytes(DebianKernel.BzImagePath);

        LoadedKernel k = KernelLoader.Load(memory, DebianKernel.BzImagePath);

        Assert.Equal(KernelFormat.BzImage, k.Format);
        Assert.Equal(new GuestAddress(0x100200), k.EntryPoint);
        Assert.Equal(new GuestAddress(0x100000), k.LoadStart);
        int setup = k.Header!.Value.SetupSize;
        Assert.Equal(image.AsSpan(setup).ToArray(), memory.GetSpan(new GuestAddress(0x100000), image.Length - setup).ToArray());
        // Relocatable, loaded below LOAD_PHYSICAL_ADDR: it decompresses at pref_address (16 MiB), init_size long.
        Assert.Equal(0x100_0000UL, k.Header.Value.PrefAddress);
        Assert.Equal(0x100_0000UL + k.Header.Value.InitSize, k.LoadEnd.Value);
    }

    [Fact]
    public void WriteBootParams_DebianBzImage_CarriesItsHeaderAndRejectsCmdlineBeyondCmdlineSize()
    {
        var memory = new FakeGuestMemory(GuestRam);
        LoadedKernel k = KernelLoader.Load(memory, DebianKernel.BzImagePath);
        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);

        LinuxBoot.WriteBootParams(memory, k, "console=ttyS0", null, e820);
        BootParams bp = memory.Read<BootParams>(new GuestAddress(BootLayout.ZeroPageStart));
        var e = Assert.Throws<BootException>(() => LinuxBoot.WriteBootParams(memory, k, new string('x', 2048), null, e820));

        Assert.Equal(k.Header!.Value.Version, bp.Hdr.Version);
        Assert.Equal(k.Header.Value.InitSize, bp.Hdr.InitSize);
        Assert.Equal(k.Header.Value.SetupSects, bp.Hdr.SetupSects);
        Assert.Equal(0xff, bp.Hdr.TypeOfLoader);
        Assert.NotEqual(0, bp.Hdr.LoadFlags & SetupHeader.CanUseHeap);
        Assert.Equal(2047u, bp.Hdr.CmdlineSize);
        Assert.Contains("at most 2047 fit", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DebianVmlinux_PtLoadsAtPaddrEntryIsStartup64Physical()
    {
        var memory = new FakeGuestMemory(GuestRam);
        byte[] elf = File.ReadAllBytes(DebianKernel.VmlinuxPath);
        ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(24));
        ulong phoff = BinaryPrimitives.ReadUInt64LittleEndian(elf.AsSpan(32));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(elf.AsSpan(56));

        LoadedKernel k = KernelLoader.Load(memory, DebianKernel.VmlinuxPath);

        Assert.Equal(KernelFormat.Elf, k.Format);
        // The kernel's e_entry is phys_startup_64, the physical address of startup_64: the first PT_LOAD's start.
        Assert.Equal(new GuestAddress(entry), k.EntryPoint);
        int loads = 0;
        ulong firstPaddr = ulong.MaxValue;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = elf.AsSpan((int)phoff + (i * 56), 56);
            if (BinaryPrimitives.ReadUInt32LittleEndian(ph) != 1)
            {
                continue;
            }

            loads++;
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong paddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[24..]);
            int filesz = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]));
            firstPaddr = Math.Min(firstPaddr, paddr);
            Assert.True(
                elf.AsSpan((int)offset, filesz).SequenceEqual(memory.GetSpan(new GuestAddress(paddr), filesz)),
                $"PT_LOAD {i} is not at p_paddr 0x{paddr:x}");
        }

        Assert.True(loads >= 2, $"{loads} PT_LOAD segments");
        Assert.Equal(firstPaddr, k.EntryPoint.Value);
        Assert.Equal(new GuestAddress(firstPaddr), k.LoadStart);
        Assert.Equal(0x1000000UL, firstPaddr); // CONFIG_PHYSICAL_START
        Assert.NotNull(k.PvhEntryPoint); // the cloud kernel is built with CONFIG_PVH
        Assert.InRange(k.PvhEntryPoint.Value.Value, k.LoadStart.Value, k.LoadEnd.Value - 1);
    }

    [Fact]
    public void Load_DebianBzImageWithFlippedMagic_RejectedAsUnknownFormat()
    {
        byte[] image = File.ReadAllBytes(DebianKernel.BzImagePath);
        image[0x202] ^= 0xff;
        string path = _temp.Write("vmlinuz-flipped", image);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(GuestRam), path));

        Assert.Contains(path, e.Message, StringComparison.Ordinal);
        Assert.Contains("neither an ELF vmlinux", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DebianBzImageCutInHalf_RejectedAsTruncated()
    {
        byte[] image = File.ReadAllBytes(DebianKernel.BzImagePath);
        string path = _temp.Write("vmlinuz-half", image[..(image.Length / 2)]);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(GuestRam), path));

        Assert.StartsWith($"kernel {path} is truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DebianVmlinuxCutInHalf_RejectedAsTruncated()
    {
        byte[] elf = File.ReadAllBytes(DebianKernel.VmlinuxPath);
        string path = _temp.Write("vmlinux-half", elf[..(elf.Length / 2)]);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(GuestRam), path));

        Assert.StartsWith($"kernel {path} is truncated", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DebianVmlinuxWithFlippedElfMagic_Rejected()
    {
        byte[] elf = File.ReadAllBytes(DebianKernel.VmlinuxPath);
        elf[1] = (byte)'X';
        string path = _temp.Write("vmlinux-flipped", elf);

        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(GuestRam), path));

        Assert.Contains("neither an ELF vmlinux", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_DebianVmlinuxIn16MiB_TooBigForMemory()
    {
        var e = Assert.Throws<BootException>(() => KernelLoader.Load(new FakeGuestMemory(16 * MiB), DebianKernel.VmlinuxPath));

        Assert.Contains("does not fit in guest memory", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Everything a boot writes, for the real kernel, in one guest: nothing overlaps and boot_params describes it.</summary>
    [Fact]
    public void FullBootSetup_DebianVmlinuxWithInitrd_StructuresDisjointAndDescribed()
    {
        var memory = new FakeGuestMemory(GuestRam);
        string initrdPath = _temp.Write("initrd.cpio", TestBzImage.Pattern(300_000));
        const string cmdline = "console=ttyS0 reboot=k panic=1";

        LoadedKernel kernel = KernelLoader.Load(memory, DebianKernel.VmlinuxPath);
        GuestRegion initrd = InitrdLoader.Load(memory, initrdPath, kernel);
        IReadOnlyList<E820Entry> e820 = BootLayout.BuildE820(memory);
        GuestAddress zeroPage = LinuxBoot.WriteBootParams(memory, kernel, cmdline, initrd, e820);
        LongModeState sregs = LongMode.Setup(memory);
        MpTable.Write(memory, 2);
        BootRegisters regs = BootRegisters.ForBootCpu(kernel, zeroPage);

        (ulong Start, ulong End, string Name)[] used =
        [
            (BootLayout.GdtStart, BootLayout.GdtStart + 32, "GDT"),
            (BootLayout.IdtStart, BootLayout.IdtStart + 8, "IDT"),
            (BootLayout.ZeroPageStart, BootLayout.ZeroPageStart + 4096, "boot_params"),
            (BootLayout.ZeroPageStart + 4096, BootLayout.BootStackPointer, "stack"),
            (BootLayout.Pml4Start, BootLayout.PdeStart + 4096, "page tables"),
            (BootLayout.CmdlineStart, BootLayout.CmdlineStart + BootLayout.CmdlineMaxSize, "cmdline"),
            (BootLayout.MpTableStart, BootLayout.MpTableStart + (ulong)MpTable.Size(2), "MP table"),
            (kernel.LoadStart.Value, kernel.LoadEnd.Value, "kernel"),
            (initrd.Start.Value, initrd.End, "initrd"),
        ];
        foreach (var a in used)
        {
            foreach (var b in used.Where(b => b.Name != a.Name))
            {
                Assert.False(a.Start < b.End && b.Start < a.End, $"{a.Name} overlaps {b.Name}");
            }
        }

        BootParams bp = memory.Read<BootParams>(zeroPage);
        Assert.Equal((uint)initrd.Start.Value, bp.Hdr.RamdiskImage);
        Assert.Equal(300_000u, bp.Hdr.RamdiskSize);
        Assert.True(GuestRam - initrd.End < 4096, "the initrd goes to the top of RAM");
        Assert.Equal(0, (int)(initrd.Start.Value % 4096));
        Assert.Equal(e820.Count, bp.E820Entries);
        Assert.Equal(kernel.EntryPoint.Value, regs.Rip);
        Assert.Equal(BootLayout.ZeroPageStart, regs.Rsi);
        Assert.True(kernel.LoadEnd.Value <= 1UL << 30, "the kernel must lie inside the identity-mapped first GiB");
        Assert.Equal(BootLayout.Pml4Start, sregs.Cr3);
    }
}
