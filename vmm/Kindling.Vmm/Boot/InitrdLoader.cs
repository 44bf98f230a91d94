using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Boot;

/// <summary>
/// Places an initrd as high as the kernel allows, page aligned: below the top of low RAM (the first region, cut at
/// the MMIO gap) and below the kernel's initrd_addr_max, never overlapping the kernel.
/// </summary>
public static class InitrdLoader
{
    public const ulong PageSize = 4096;

    /// <summary>initrd_addr_max a kernel without the field (or an ELF vmlinux) gets: boot.rst's default for protocol ≥ 2.03.</summary>
    public const ulong DefaultInitrdAddrMax = 0x7fff_ffff;

    public static GuestRegion Load(IGuestMemory memory, string path, LoadedKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(kernel);
        using ImageFile file = ImageFile.Open(path, "initrd");
        ulong size = (ulong)file.Length;

        ulong addrMax = kernel.Header is { InitrdAddrMax: > 0 } h ? h.InitrdAddrMax : DefaultInitrdAddrMax;
        ulong top = Math.Min(LowRamEnd(memory), addrMax + 1);
        ulong floor = Math.Max(kernel.LoadEnd.Value, BootLayout.HimemStart);
        floor = (floor + PageSize - 1) & ~(PageSize - 1);
        if (top < floor || top - floor < size)
        {
            ulong room = top > floor ? top - floor : 0;
            throw new BootException(
                $"initrd {path} is too big: it is {size} bytes ({size >> 20} MiB) but only {room} bytes ({room >> 20} MiB) " +
                $"are free between the kernel's end 0x{kernel.LoadEnd.Value:x} and 0x{top:x}; raise machine-config " +
                "mem_size_mib or use a smaller initrd");
        }

        var address = new GuestAddress((top - size) & ~(PageSize - 1));
        file.CopyToGuest(memory, 0, address, size, "the initrd");
        return new GuestRegion(address, size);
    }

    /// <summary>End of the RAM region that holds 1 MiB, cut at the start of the MMIO gap.</summary>
    private static ulong LowRamEnd(IGuestMemory memory)
    {
        foreach (GuestRegion region in memory.Regions)
        {
            if (region.Contains(new GuestAddress(BootLayout.HimemStart), 1))
            {
                return Math.Min(region.End, BootLayout.MmioGapStart);
            }
        }

        throw new BootException($"guest RAM does not cover 1 MiB ({GuestMemoryText.Describe(memory)}); it cannot hold an initrd");
    }
}
