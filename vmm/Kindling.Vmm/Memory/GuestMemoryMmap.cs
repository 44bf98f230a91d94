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
        GuestRegion[] sorted = CheckedLayout(regions, problem => new ArgumentException(problem, nameof(regions)));
        HostMappedRegion[] host = MapEach(sorted, r => LibcMemory.Mmap(0, (nuint)r.Size, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE,
            LibcMemory.MAP_PRIVATE | LibcMemory.MAP_ANONYMOUS | LibcMemory.MAP_NORESERVE, -1, 0),
            r => $"cannot map 0x{r.Size:x} bytes of guest RAM at {r.Start}");
        return new GuestMemoryMmap(sorted, host);
    }

    /// <summary>
    /// The one check of a RAM layout (fresh or from a snapshot): every region non-empty and page aligned, none wrapping
    /// around the 64-bit guest address space, none overlapping another. Returns the regions sorted by guest address;
    /// a problem is thrown as <paramref name="error"/> makes it from one sentence naming the region.
    /// </summary>
    public static GuestRegion[] CheckedLayout(IEnumerable<GuestRegion> regions, Func<string, Exception> error)
    {
        ArgumentNullException.ThrowIfNull(regions);
        ArgumentNullException.ThrowIfNull(error);
        GuestRegion[] sorted = [.. regions.OrderBy(r => r.Start.Value)];
        for (int i = 0; i < sorted.Length; i++)
        {
            GuestRegion r = sorted[i];
            if (r.Size == 0 || r.Size % X86MemoryLayout.PageSize != 0 || r.Start.Value % X86MemoryLayout.PageSize != 0)
            {
                throw error($"guest region {r.Start} +0x{r.Size:x} is not page aligned");
            }

            if (!r.Start.TryAdd(r.Size, out _))
            {
                throw error($"guest region {r.Start} +0x{r.Size:x} wraps around the guest address space");
            }

            if (i > 0 && r.Start.Value < sorted[i - 1].End)
            {
                throw error($"guest regions at {sorted[i - 1].Start} and {r.Start} overlap");
            }
        }

        return sorted;
    }

    /// <summary>
    /// Maps every region with <paramref name="map"/> (an mmap returning MAP_FAILED on failure), unmapping those done
    /// when one fails; the failure is thrown as <see cref="GuestMemoryException"/> with <paramref name="describe"/>'s
    /// words and the errno.
    /// </summary>
    private static HostMappedRegion[] MapEach(GuestRegion[] sorted, Func<GuestRegion, nint> map, Func<GuestRegion, string> describe)
    {
        var host = new HostMappedRegion[sorted.Length];
        try
        {
            for (int i = 0; i < sorted.Length; i++)
            {
                nint address = map(sorted[i]);
                if (address == LibcMemory.MapFailed)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new GuestMemoryException($"{describe(sorted[i])}: {Libc.ErrorText(errno)} (errno {errno})");
                }

                host[i] = new HostMappedRegion(sorted[i].Start, address, sorted[i].Size);
            }
        }
        catch
        {
            Unmap(host);
            throw;
        }

        return host;
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
