using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Kindling.Vmm.Memory;
using Microsoft.Win32.SafeHandles;

namespace Kindling.Vmm.Boot;

/// <summary>
/// A kernel or initrd file opened for loading: typed reads at file offsets and chunked copies into guest memory,
/// each failure turned into a <see cref="BootException"/> that names the file.
/// </summary>
internal sealed class ImageFile : IDisposable
{
    /// <summary>Copies into guest memory go in pieces of this size (spans are int-sized).</summary>
    private const int CopyChunk = 1 << 20;

    private readonly SafeFileHandle _handle;

    private ImageFile(string path, string kind, SafeFileHandle handle, long length)
    {
        Path = path;
        Kind = kind;
        _handle = handle;
        Length = length;
    }

    public string Path { get; }

    /// <summary>"kernel" or "initrd", used in messages.</summary>
    public string Kind { get; }

    public long Length { get; }

    public static ImageFile Open(string path, string kind)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
        {
            throw new BootException($"{kind} path is empty: set it to the {kind} image file");
        }

        if (Directory.Exists(path))
        {
            throw new BootException($"{kind} {path} is a directory, not an image file");
        }

        if (!File.Exists(path))
        {
            throw new BootException($"{kind} {path} does not exist: check the path");
        }

        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BootException($"{kind} {path} cannot be opened: {e.Message}", e);
        }

        long length = RandomAccess.GetLength(handle);
        if (length == 0)
        {
            handle.Dispose();
            throw new BootException($"{kind} {path} is empty");
        }

        return new ImageFile(path, kind, handle, length);
    }

    /// <summary>Reads a <typeparamref name="T"/> at <paramref name="offset"/>; a file too short for it is truncated.</summary>
    public T ReadStruct<T>(long offset, string what) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        Span<byte> buffer = stackalloc byte[size];
        ReadExactly(offset, buffer, what);
        return MemoryMarshal.Read<T>(buffer);
    }

    public void ReadExactly(long offset, Span<byte> buffer, string what)
    {
        if (offset < 0 || offset > Length || buffer.Length > Length - offset)
        {
            throw Truncated(what, offset, buffer.Length);
        }

        int read = 0;
        while (read < buffer.Length)
        {
            int n = RandomAccess.Read(_handle, buffer[read..], offset + read);
            if (n == 0)
            {
                throw Truncated(what, offset, buffer.Length);
            }

            read += n;
        }
    }

    /// <summary>Copies [fileOffset, +length) of the file to guest memory at <paramref name="destination"/> (already range-checked).</summary>
    public void CopyToGuest(IGuestMemory memory, long fileOffset, GuestAddress destination, ulong length, string what)
    {
        if (fileOffset < 0 || fileOffset > Length || length > (ulong)(Length - fileOffset))
        {
            throw Truncated(what, fileOffset, length);
        }

        ulong done = 0;
        while (done < length)
        {
            int chunk = (int)Math.Min(CopyChunk, length - done);
            Span<byte> target = memory.GetSpan(destination.Add(done), chunk);
            ReadExactly(fileOffset + (long)done, target, what);
            done += (ulong)chunk;
        }
    }

    /// <summary>Zeroes [address, +length) of guest memory (already range-checked).</summary>
    public static void ZeroGuest(IGuestMemory memory, GuestAddress address, ulong length)
    {
        ulong done = 0;
        while (done < length)
        {
            int chunk = (int)Math.Min(CopyChunk, length - done);
            memory.GetSpan(address.Add(done), chunk).Clear();
            done += (ulong)chunk;
        }
    }

    public BootException Corrupt(string detail) => new($"{Kind} {Path} is not a usable image: {detail}");

    public BootException Truncated(string what, long offset, ulong length) =>
        new($"{Kind} {Path} is truncated: {what} at file offset 0x{offset:x} (+0x{length:x}) lies past its end " +
            $"(file is 0x{Length:x} bytes); the file is incomplete or corrupt, fetch it again");

    private BootException Truncated(string what, long offset, int length) => Truncated(what, offset, (ulong)length);

    public void Dispose() => _handle.Dispose();
}
