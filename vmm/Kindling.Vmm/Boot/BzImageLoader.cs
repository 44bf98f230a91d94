using System.Runtime.CompilerServices;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// Loads a bzImage per the Linux boot protocol (Documentation/arch/x86/boot.rst) for a 64-bit entry: the
/// protected-mode part (after the (setup_sects + 1) × 512 bytes of real-mode setup) goes to 1 MiB and the
/// entry is startup_64 at 1 MiB + 0x200. The real-mode code is not run; its setup header is kept for boot_params.
/// </summary>
internal static class BzImageLoader
{
    /// <summary>Boot protocol 2.06: the oldest we accept (cmdline_size; 2.05 made the kernel relocatable).</summary>
    public const ushort MinimumProtocol = 0x0206;

    /// <summary>Protocol 2.08 added payload_offset/payload_length.</summary>
    private const ushort PayloadProtocol = 0x0208;

    /// <summary>Protocol 2.10 added init_size and pref_address.</summary>
    private const ushort InitSizeProtocol = 0x020a;

    /// <summary>Protocol 2.12 added xloadflags, whose XLF_KERNEL_64 announces the 64-bit entry.</summary>
    private const ushort XLoadFlagsProtocol = 0x020c;

    /// <summary>The 64-bit entry (startup_64) is 0x200 bytes into the protected-mode part (boot.rst, "64-bit boot protocol").</summary>
    public const ulong Entry64Offset = 0x200;

    /// <summary>Size of the protected-mode part in syssize units (16-byte paragraphs).</summary>
    private const int SyssizeUnit = 16;

    private static int HeaderEnd => SetupHeader.Offset + Unsafe.SizeOf<SetupHeader>();

    public static bool LooksLikeBzImage(ImageFile file)
    {
        const long headerMagicOffset = 0x202;
        if (file.Length < headerMagicOffset + sizeof(uint))
        {
            return false;
        }

        return file.ReadStruct<uint>(headerMagicOffset, "the setup header magic") == SetupHeader.HeaderMagic;
    }

    public static LoadedKernel Load(IGuestMemory memory, ImageFile file)
    {
        if (file.Length < HeaderEnd)
        {
            throw file.Truncated("the bzImage setup header", SetupHeader.Offset, (ulong)Unsafe.SizeOf<SetupHeader>());
        }

        SetupHeader header = file.ReadStruct<SetupHeader>(SetupHeader.Offset, "the bzImage setup header");
        Check(file, header);

        long setupSize = header.SetupSize;
        if (setupSize >= file.Length)
        {
            throw file.Truncated("the protected-mode kernel", setupSize, 1);
        }

        ulong kernelSize = (ulong)(file.Length - setupSize);
        ulong declared = (ulong)header.Syssize * SyssizeUnit;
        if (declared > kernelSize)
        {
            throw file.Truncated($"the protected-mode kernel (syssize says 0x{declared:x} bytes)", setupSize, declared);
        }

        if (header.Version >= PayloadProtocol &&
            (ulong)header.PayloadOffset + header.PayloadLength > kernelSize)
        {
            throw file.Truncated("the compressed payload", setupSize + header.PayloadOffset, header.PayloadLength);
        }

        var loadStart = new GuestAddress(BootLayout.HimemStart);
        ulong end = FootprintEnd(header, kernelSize);
        if (!memory.IsValidRange(loadStart, end - loadStart.Value))
        {
            throw new BootException(
                $"kernel {file.Path} does not fit in guest memory: it needs [0x{loadStart.Value:x}, 0x{end:x}) " +
                $"(it decompresses to 0x{RunAddress(header):x} + init_size 0x{header.InitSize:x}) but guest RAM is " +
                $"{GuestMemoryText.Describe(memory)}; raise machine-config mem_size_mib");
        }

        file.CopyToGuest(memory, setupSize, loadStart, kernelSize, "the protected-mode kernel");
        return new LoadedKernel(
            KernelFormat.BzImage, loadStart.Add(Entry64Offset), loadStart, new GuestAddress(end))
        {
            Header = header,
            Path = file.Path,
        };
    }

    /// <summary>
    /// Where the kernel decompresses itself (arch/x86/boot/compressed/head_64.S): the load address rounded up to
    /// kernel_alignment when relocatable, but never below pref_address (LOAD_PHYSICAL_ADDR).
    /// </summary>
    internal static ulong RunAddress(SetupHeader header)
    {
        ulong run = BootLayout.HimemStart;
        if (header.Version < InitSizeProtocol)
        {
            return run;
        }

        ulong alignment = header.KernelAlignment;
        if (header.RelocatableKernel != 0 && alignment > 1 && ulong.IsPow2(alignment))
        {
            run = (run + alignment - 1) & ~(alignment - 1);
        }

        return Math.Max(run, header.PrefAddress);
    }

    /// <summary>End of the memory the kernel uses: its loaded image, and the init_size bytes it decompresses into.</summary>
    private static ulong FootprintEnd(SetupHeader header, ulong kernelSize)
    {
        ulong loaded = BootLayout.HimemStart + kernelSize;
        return header.Version < InitSizeProtocol ? loaded : Math.Max(loaded, RunAddress(header) + header.InitSize);
    }

    private static void Check(ImageFile file, SetupHeader header)
    {
        if (header.BootFlag != SetupHeader.BootFlagMagic)
        {
            throw file.Corrupt($"boot_flag at 0x1fe is 0x{header.BootFlag:x4}, not 0xaa55");
        }

        if (header.Version < MinimumProtocol)
        {
            throw file.Corrupt(
                $"it uses Linux boot protocol {header.VersionText}; Kindling needs 2.06 or newer (Linux 2.6.22+)");
        }

        if ((header.LoadFlags & SetupHeader.LoadedHigh) == 0)
        {
            throw file.Corrupt("it is a zImage (loadflags LOADED_HIGH clear), which loads at 0x10000; use a bzImage");
        }

        if (header.Version < XLoadFlagsProtocol)
        {
            throw file.Corrupt(
                $"it uses Linux boot protocol {header.VersionText}, older than 2.12 where xloadflags announce the 64-bit " +
                "entry point; Kindling enters kernels in long mode, so use a Linux 3.8+ x86_64 kernel");
        }

        if ((header.XLoadFlags & SetupHeader.XlfKernel64) == 0)
        {
            throw file.Corrupt(
                "it has no 64-bit entry point (xloadflags XLF_KERNEL_64 clear); Kindling enters kernels in long mode, " +
                "so build an x86_64 kernel");
        }
    }
}
