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
        GuestRegion[] sorted = CheckedLayout(regions.Select(r => r.Region), problem => new GuestMemoryException($"memory file {path}: {problem}"));
        Dictionary<ulong, ulong> offsets = regions.ToDictionary(r => r.Region.Start.Value, r => r.FileOffset);
        using SafeFileHandle file = OpenMemoryFile(path);
        long length = RandomAccess.GetLength(file);
        foreach (GuestRegion r in sorted)
        {
            ulong offset = offsets[r.Start.Value];
            if (offset % X86MemoryLayout.PageSize != 0)
            {
                throw new GuestMemoryException($"memory file {path}: region {r.Start} +0x{r.Size:x} at file offset 0x{offset:x} is not page aligned");
            }

            if (offset > (ulong)length || r.Size > (ulong)length - offset)
            {
                throw new GuestMemoryException(
                    $"memory file {path} is truncated: region {r.Start} +0x{r.Size:x} needs bytes up to 0x{offset + r.Size:x}, the file has 0x{length:x}; use the mem_file_path that snapshot/create wrote with this state file");
            }
        }

        HostMappedRegion[] host = MapEach(sorted, r => LibcMemory.Mmap(0, (nuint)r.Size, LibcMemory.PROT_READ | LibcMemory.PROT_WRITE,
            LibcMemory.MAP_PRIVATE | LibcMemory.MAP_NORESERVE, file, (long)offsets[r.Start.Value]),
            r => $"cannot map memory file {path} at offset 0x{offsets[r.Start.Value]:x} for guest RAM {r.Start}");
        return new GuestMemoryMmap(sorted, host);
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
