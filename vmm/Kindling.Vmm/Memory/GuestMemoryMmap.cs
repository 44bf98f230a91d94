using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Memory;

/// <summary>
/// Guest RAM in anonymous private host mappings (MAP_NORESERVE: pages cost host memory only once the guest touches
/// them). Each region is one mapping; <see cref="HostRegions"/> gives them to KVM. Dispose unmaps: only after every
/// vCPU has stopped and no device holds a span.
/// </summary>
// SAFETY: each host pointer comes from an mmap of its region's full size and stays valid until Dispose; a span is formed only after GuestMemoryBase has checked the range lies inside that region.
public sealed unsafe partial class GuestMemoryMmap : GuestMemoryBase, IDisposable
{
    private readonly GuestRegion[] _regions;
    private readonly HostMappedRegion[] _host;
    private volatile bool _disposed;

    private GuestMemoryMmap(GuestRegion[] regions, HostMappedRegion[] host)
    {
        _regions = regions;
        _host = host;
    }

    /// <summary>Maps <paramref name="sizeBytes"/> of RAM laid out around the x86 MMIO gap (see <see cref="X86MemoryLayout"/>).</summary>
    public static GuestMemoryMmap Create(ulong sizeBytes) => Create(X86MemoryLayout.RamRegions(sizeBytes));

    /// <summary>Maps the given regions (sorted, non-overlapping, page-multiple sizes).</summary>
    public static GuestMemoryMmap Create(IReadOnlyList<GuestRegion> regions)
    {
        GuestRegion[] sorted = [.. regions.OrderBy(r => r.Start.Value)];
        for (int i = 0; i < sorted.Length; i++)
        {
            if (sorted[i].Size == 0 || sorted[i].Size % X86MemoryLayout.PageSize != 0 || sorted[i].Start.Value % X86MemoryLayout.PageSize != 0)
            {
                throw new ArgumentException($"guest region {sorted[i].Start} +0x{sorted[i].Size:x} is not page aligned", nameof(regions));
            }

            if (!sorted[i].Start.TryAdd(sorted[i].Size, out _))
            {
                throw new ArgumentException($"guest region {sorted[i].Start} +0x{sorted[i].Size:x} wraps around", nameof(regions));
            }

            if (i > 0 && sorted[i].Start.Value < sorted[i - 1].End)
            {
                throw new ArgumentException($"guest regions at {sorted[i - 1].Start} and {sorted[i].Start} overlap", nameof(regions));
            }
        }

        var host = new HostMappedRegion[sorted.Length];
        try
        {
            for (int i = 0; i < sorted.Length; i++)
            {
                nint address = LibcMemory.Mmap(0, (nuint)sorted[i].Size, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE,
                    LibcMemory.MAP_PRIVATE | LibcMemory.MAP_ANONYMOUS | LibcMemory.MAP_NORESERVE, -1, 0);
                if (address == LibcMemory.MapFailed)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new GuestMemoryException(
                        $"cannot map 0x{sorted[i].Size:x} bytes of guest RAM at {sorted[i].Start}: {Libc.ErrorText(errno)} (errno {errno})");
                }

                host[i] = new HostMappedRegion(sorted[i].Start, address, sorted[i].Size);
            }
        }
        catch
        {
            Unmap(host);
            throw;
        }

        return new GuestMemoryMmap(sorted, host);
    }

    public override IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>(guest address, host address, size) of every region, in guest address order.</summary>
    public IReadOnlyList<HostMappedRegion> HostRegions
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _host;
        }
    }

    /// <summary>Total RAM in bytes.</summary>
    public ulong TotalSize => _regions.Aggregate(0UL, (sum, r) => sum + r.Size);

    protected override Span<byte> RegionSpan(int regionIndex, ulong offset, int length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);

        // SAFETY: GuestMemoryBase checked [offset, offset + length) lies inside region regionIndex, which is mapped
        // read-write for its whole size until Dispose.
        return new Span<byte>((byte*)_host[regionIndex].HostAddress + offset, length);
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Unmap(_host);
    }

    private static void Unmap(HostMappedRegion[] host)
    {
        foreach (HostMappedRegion region in host)
        {
            if (region.HostAddress != 0)
            {
                LibcMemory.Munmap(region.HostAddress, (nuint)region.Size);
            }
        }
    }
}
