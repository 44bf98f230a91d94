using System.Text;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>Writes the zero page (struct boot_params) and the command line the 64-bit Linux boot protocol expects.</summary>
public static class LinuxBoot
{
    /// <summary>Firecracker's KERNEL_MIN_ALIGNMENT_BYTES, written into an ELF kernel's header.</summary>
    public const uint ElfKernelAlignment = 0x0100_0000;

    /// <summary>heap_end_ptr for a bzImage: boot.rst's example heap end 0xe000, minus 0x200.</summary>
    public const ushort HeapEndPtr = 0xe000 - 0x200;

    /// <summary>
    /// Writes <paramref name="cmdline"/> NUL-terminated at <see cref="BootLayout.CmdlineStart"/> and boot_params at
    /// <see cref="BootLayout.ZeroPageStart"/>: a bzImage's own setup header (as the boot protocol requires) or a
    /// minimal one for ELF, then loader type, command line pointer, initrd and the e820 map. Returns the zero
    /// page's address (RSI at entry).
    /// </summary>
    public static GuestAddress WriteBootParams(
        IGuestMemory memory, LoadedKernel kernel, string cmdline, GuestRegion? initrd, IReadOnlyList<E820Entry> e820)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(cmdline);
        ArgumentNullException.ThrowIfNull(e820);

        byte[] cmdlineBytes = EncodeCmdline(kernel, cmdline);
        var cmdlineAddress = new GuestAddress(BootLayout.CmdlineStart);
        memory.Write(cmdlineAddress, cmdlineBytes);

        BootParams bp = default;
        if (kernel.Header is { } header)
        {
            bp.Hdr = header;
            bp.Hdr.LoadFlags |= SetupHeader.CanUseHeap;
            bp.Hdr.HeapEndPtr = HeapEndPtr;
        }
        else
        {
            bp.Hdr.BootFlag = SetupHeader.BootFlagMagic;
            bp.Hdr.Header = SetupHeader.HeaderMagic;
            bp.Hdr.KernelAlignment = ElfKernelAlignment;
            bp.Hdr.CmdlineSize = (uint)(cmdlineBytes.Length - 1);
        }

        bp.Hdr.TypeOfLoader = SetupHeader.TypeOfLoaderUndefined;
        bp.Hdr.CmdLinePtr = (uint)BootLayout.CmdlineStart;
        bp.ExtCmdLinePtr = (uint)(BootLayout.CmdlineStart >> 32);

        if (initrd is { } rd)
        {
            bp.Hdr.RamdiskImage = (uint)rd.Start.Value;
            bp.Hdr.RamdiskSize = (uint)rd.Size;
            bp.ExtRamdiskImage = (uint)(rd.Start.Value >> 32);
            bp.ExtRamdiskSize = (uint)(rd.Size >> 32);
        }

        WriteE820(ref bp, e820);
        var zeroPage = new GuestAddress(BootLayout.ZeroPageStart);
        memory.Write(zeroPage, bp);
        return zeroPage;
    }

    private static byte[] EncodeCmdline(LoadedKernel kernel, string cmdline)
    {
        if (cmdline.Contains('\0', StringComparison.Ordinal))
        {
            throw new BootException("boot_args contains a NUL character; the kernel would stop reading there");
        }

        int length = Encoding.UTF8.GetByteCount(cmdline);
        // The kernel's own buffer (KernelCommandLine explains the one limit), or a bzImage's smaller cmdline_size.
        ulong limit = KernelCommandLine.MaxLength;
        string limitSource = $"x86 COMMAND_LINE_SIZE {KernelCommandLine.Size} with its NUL";
        if (kernel.Header is { CmdlineSize: > 0 } h && h.CmdlineSize < limit)
        {
            limit = h.CmdlineSize;
            limitSource = $"kernel {kernel.Path}'s cmdline_size";
        }

        if ((ulong)length > limit)
        {
            throw new BootException(
                $"boot_args is {length} bytes; at most {limit} fit ({limitSource}): shorten the kernel command line");
        }

        byte[] bytes = new byte[length + 1];
        Encoding.UTF8.GetBytes(cmdline, bytes);
        return bytes;
    }

    private static void WriteE820(ref BootParams bp, IReadOnlyList<E820Entry> e820)
    {
        if (e820.Count > BootParams.E820MaxEntriesZeropage)
        {
            throw new BootException(
                $"the e820 map has {e820.Count} entries; boot_params holds at most {BootParams.E820MaxEntriesZeropage}");
        }

        for (int i = 0; i < e820.Count; i++)
        {
            bp.E820Table[i] = new BootE820Entry { Addr = e820[i].Address, Size = e820[i].Size, Type = (uint)e820[i].Type };
        }

        bp.E820Entries = (byte)e820.Count;
    }
}
