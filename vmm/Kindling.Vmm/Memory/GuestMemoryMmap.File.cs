using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Memory;

/// <summary>One guest RAM region backed by <see cref="FileOffset"/>.. of a memory file.</summary>
public readonly record struct FileBackedRegion(GuestRegion Region, ulong FileOffset);

// SAFETY: as GuestMemoryMmap: each host pointer comes from an mmap of its region's full size and stays valid until Dispose.
public sealed unsafe partial class GuestMemoryMmap
{
    private const int CopyChunk = 1 << 20;

    /// <summary>
    /// Maps guest RAM from a memory file copy-on-write (MAP_PRIVATE): pages are read from the page cache, which
    /// every clone of the same file shares, and a page the guest writes becomes private to this VM; the file is
    /// never written. The file must hold every region whole (a truncated memory file is refused here, not found
    /// as a SIGBUS when the guest touches the missing page).
    /// </summary>
    public static GuestMemoryMmap MapPrivateFile(string path, IReadOnlyList<FileBackedRegion> regions)
    {
        ArgumentNullException.ThrowIfNull(regions);
        FileBackedRegion[] sorted = [.. regions.OrderBy(r => r.Region.Start.Value)];
        using SafeFileHandle file = OpenMemoryFile(path);
        long length = RandomAccess.GetLength(file);
        for (int i = 0; i < sorted.Length; i++)
        {
            GuestRegion r = sorted[i].Region;
            if (r.Size == 0 || r.Size % X86MemoryLayout.PageSize != 0 || r.Start.Value % X86MemoryLayout.PageSize != 0 || sorted[i].FileOffset % X86MemoryLayout.PageSize != 0)
            {
                throw new GuestMemoryException($"memory file {path}: region {r.Start} +0x{r.Size:x} at file offset 0x{sorted[i].FileOffset:x} is not page aligned");
            }

            if (i > 0 && r.Start.Value < sorted[i - 1].Region.End)
            {
                throw new GuestMemoryException($"memory file {path}: guest regions at {sorted[i - 1].Region.Start} and {r.Start} overlap");
            }

            if (sorted[i].FileOffset > (ulong)length || r.Size > (ulong)length - sorted[i].FileOffset)
            {
                throw new GuestMemoryException(
                    $"memory file {path} is truncated: region {r.Start} +0x{r.Size:x} needs bytes up to 0x{sorted[i].FileOffset + r.Size:x}, the file has 0x{length:x}; use the mem_file_path that snapshot/create wrote with this state file");
            }
        }

        var host = new HostMappedRegion[sorted.Length];
        try
        {
            for (int i = 0; i < sorted.Length; i++)
            {
                GuestRegion r = sorted[i].Region;
                nint address = LibcMemory.Mmap(0, (nuint)r.Size, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE,
                    LibcMemory.MAP_PRIVATE | LibcMemory.MAP_NORESERVE, file, (long)sorted[i].FileOffset);
                if (address == LibcMemory.MapFailed)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    throw new GuestMemoryException($"cannot map memory file {path} at offset 0x{sorted[i].FileOffset:x} for guest RAM {r.Start}: {Libc.ErrorText(errno)} (errno {errno})");
                }

                host[i] = new HostMappedRegion(r.Start, address, r.Size);
            }
        }
        catch
        {
            Unmap(host);
            throw;
        }

        return new GuestMemoryMmap([.. sorted.Select(r => r.Region)], host);
    }

    /// <summary>
    /// Writes every region, in guest address order, to <paramref name="destination"/> from its current position,
    /// and returns where each went (the memory file of a full snapshot; the VM must be paused).
    /// </summary>
    public IReadOnlyList<FileBackedRegion> WriteTo(Stream destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var layout = new FileBackedRegion[_regions.Length];
        ulong offset = 0;
        for (int i = 0; i < _regions.Length; i++)
        {
            layout[i] = new FileBackedRegion(_regions[i], offset);
            for (ulong done = 0; done < _regions[i].Size; done += CopyChunk)
            {
                int length = (int)Math.Min(CopyChunk, _regions[i].Size - done);
                destination.Write(RegionSpan(i, done, length));
            }

            offset += _regions[i].Size;
        }

        return layout;
    }

    private static SafeFileHandle OpenMemoryFile(string path)
    {
        try
        {
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new GuestMemoryException($"memory file {path} cannot be opened: {e.Message}");
        }
    }
}
