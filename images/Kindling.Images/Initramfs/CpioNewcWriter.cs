using System.Text;

namespace Kindling.Images.Initramfs;

/// <summary>
/// Writes a cpio archive in the "newc" format the kernel unpacks as an initramfs (usr/initramfs_data, cpio(5)):
/// a 110-byte ASCII header ("070701" and 13 eight-digit hex fields), the NUL-terminated name padded to 4 bytes,
/// the data padded to 4 bytes, and a final "TRAILER!!!" entry. Output is deterministic: owners are 0:0, every
/// mtime is <see cref="Mtime"/>, inode numbers count up from 1 in write order.
/// </summary>
public sealed class CpioNewcWriter(Stream output)
{
    public const string Magic = "070701";
    public const string TrailerName = "TRAILER!!!";
    public const uint Mtime = 0;
    public const uint S_IFMT = 0xF000;
    public const uint S_IFDIR = 0x4000;
    public const uint S_IFREG = 0x8000;
    public const uint S_IFLNK = 0xA000;
    public const uint S_IFCHR = 0x2000;
    public const int HeaderSize = 110;
    private const int Alignment = 4;

    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private uint _nextInode = 1;
    private long _position;
    private bool _finished;

    public void AddDirectory(string path, uint permissions = 0x1ED /* 0755 */) =>
        Write(path, S_IFDIR | permissions, nlink: 2, ReadOnlySpan<byte>.Empty, 0, 0);

    public void AddFile(string path, ReadOnlySpan<byte> data, uint permissions = 0x1A4 /* 0644 */) =>
        Write(path, S_IFREG | permissions, nlink: 1, data, 0, 0);

    public void AddSymlink(string path, string target) =>
        Write(path, S_IFLNK | 0x1FF, nlink: 1, Encoding.UTF8.GetBytes(target), 0, 0);

    public void AddCharDevice(string path, uint major, uint minor, uint permissions = 0x180 /* 0600 */) =>
        Write(path, S_IFCHR | permissions, nlink: 1, ReadOnlySpan<byte>.Empty, major, minor);

    /// <summary>Writes the trailer; the archive is complete afterwards.</summary>
    public void Finish()
    {
        if (_finished)
        {
            return;
        }

        WriteEntry(TrailerName, mode: 0, nlink: 1, ReadOnlySpan<byte>.Empty, 0, 0, inode: 0);
        _finished = true;
        output.Flush();
    }

    private void Write(string path, uint mode, uint nlink, ReadOnlySpan<byte> data, uint rdevMajor, uint rdevMinor)
    {
        ObjectDisposedException.ThrowIf(_finished, this);
        string name = Normalize(path);
        if (!_names.Add(name))
        {
            throw new ArgumentException($"cpio entry '{name}' written twice", nameof(path));
        }

        WriteEntry(name, mode, nlink, data, rdevMajor, rdevMinor, _nextInode++);
    }

    private static string Normalize(string path)
    {
        string name = path.TrimStart('/');
        if (name.Length == 0 || name.Split('/').Any(p => p is "" or "." or ".."))
        {
            throw new ArgumentException($"cpio entry name '{path}' is not a clean relative path", nameof(path));
        }

        return name;
    }

    private void WriteEntry(string name, uint mode, uint nlink, ReadOnlySpan<byte> data, uint rdevMajor, uint rdevMinor, uint inode)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        StringBuilder h = new(HeaderSize);
        h.Append(Magic);
        foreach (uint field in new[]
                 {
                     inode, mode, 0u /* uid */, 0u /* gid */, nlink, Mtime, (uint)data.Length,
                     0u /* devmajor */, 0u /* devminor */, rdevMajor, rdevMinor, (uint)nameBytes.Length, 0u /* check */,
                 })
        {
            h.Append(field.ToString("X8"));
        }

        WriteRaw(Encoding.ASCII.GetBytes(h.ToString()));
        WriteRaw(nameBytes);
        Pad();
        WriteRaw(data);
        Pad();
    }

    private void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        output.Write(bytes);
        _position += bytes.Length;
    }

    private void Pad()
    {
        int pad = (int)((Alignment - (_position % Alignment)) % Alignment);
        Span<byte> zeros = stackalloc byte[Alignment];
        zeros.Clear();
        WriteRaw(zeros[..pad]);
    }
}
