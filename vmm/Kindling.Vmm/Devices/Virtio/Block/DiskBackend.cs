using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Devices.Virtio.Block;

/// <summary>
/// The host file behind a drive: synchronous positional I/O (pread/pwrite straight into and out of guest RAM,
/// no copies, no allocation per request), fsync for flush. Capacity is the file size in 512-byte sectors.
/// </summary>
public sealed class DiskBackend : IDisposable
{
    private readonly SafeFileHandle _file;

    private DiskBackend(SafeFileHandle file, string path, bool readOnly)
    {
        _file = file;
        Path = path;
        IsReadOnly = readOnly;
        CapacitySectors = (ulong)RandomAccess.GetLength(file) / BlockRequest.SectorSize;
    }

    public string Path { get; }

    public bool IsReadOnly { get; }

    public ulong CapacitySectors { get; }

    /// <summary>Opens <paramref name="path"/>; a missing or unreadable file fails naming the drive and the path.</summary>
    public static DiskBackend Open(string driveId, string path, bool readOnly)
    {
        if (!File.Exists(path))
        {
            throw new VirtioDeviceException($"drive '{driveId}': path_on_host '{path}' does not exist; create the disk image or fix path_on_host");
        }

        try
        {
            SafeFileHandle file = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite, readOnly ? FileShare.Read : FileShare.Read);
            return new DiskBackend(file, path, readOnly);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VirtioDeviceException($"drive '{driveId}': cannot open path_on_host '{path}'{(readOnly ? "" : " read-write")}: {e.Message}", e);
        }
    }

    /// <summary>True when [sector, sector + bytes/512) lies inside the disk.</summary>
    public bool InRange(ulong sector, ulong bytes)
    {
        ulong sectors = bytes / BlockRequest.SectorSize;
        return sector <= CapacitySectors && sectors <= CapacitySectors - sector;
    }

    /// <summary>Reads into guest RAM; bytes past the end of the file read as zero.</summary>
    public void Read(IGuestMemory memory, GuestAddress address, int length, long offset)
    {
        Span<byte> target = memory.GetSpan(address, length);
        int n = FdIo.Pread(_file, target, offset);
        if (n < length)
        {
            target[n..].Clear();
        }
    }

    public void Write(IGuestMemory memory, GuestAddress address, int length, long offset) =>
        FdIo.Pwrite(_file, memory.GetSpan(address, length), offset);

    public void Flush() => FdIo.Fsync(_file);

    public void Dispose() => _file.Dispose();
}
