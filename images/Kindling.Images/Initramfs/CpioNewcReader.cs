using System.Globalization;
using System.Text;

namespace Kindling.Images.Initramfs;

/// <summary>One entry read back from a newc cpio archive.</summary>
public sealed record CpioEntry(string Name, uint Mode, uint Uid, uint Gid, uint Mtime, uint RdevMajor, uint RdevMinor, byte[] Data)
{
    public uint Type => Mode & CpioNewcWriter.S_IFMT;
}

/// <summary>Reads a newc cpio archive (as written by <see cref="CpioNewcWriter"/> or cpio -H newc), bounds-checked.</summary>
public static class CpioNewcReader
{
    public static IReadOnlyList<CpioEntry> ReadAll(ReadOnlySpan<byte> archive)
    {
        List<CpioEntry> entries = [];
        int pos = 0;
        while (true)
        {
            if (archive.Length - pos < CpioNewcWriter.HeaderSize)
            {
                throw new InvalidDataException($"cpio archive truncated at offset {pos} (no trailer)");
            }

            ReadOnlySpan<byte> h = archive.Slice(pos, CpioNewcWriter.HeaderSize);
            if (Encoding.ASCII.GetString(h[..6]) != CpioNewcWriter.Magic)
            {
                throw new InvalidDataException($"bad cpio magic at offset {pos}");
            }

            uint mode = Field(h, 1), uid = Field(h, 2), gid = Field(h, 3), mtime = Field(h, 5), size = Field(h, 6);
            uint rmaj = Field(h, 9), rmin = Field(h, 10), nameSize = Field(h, 11);
            pos += CpioNewcWriter.HeaderSize;
            if (nameSize == 0 || nameSize > archive.Length - pos)
            {
                throw new InvalidDataException($"cpio name at offset {pos} overruns the archive");
            }

            string name = Encoding.UTF8.GetString(archive.Slice(pos, (int)nameSize - 1));
            pos = Align(pos + (int)nameSize);
            if (name == CpioNewcWriter.TrailerName)
            {
                return entries;
            }

            if (size > archive.Length - pos)
            {
                throw new InvalidDataException($"cpio entry '{name}' data overruns the archive");
            }

            entries.Add(new CpioEntry(name, mode, uid, gid, mtime, rmaj, rmin, archive.Slice(pos, (int)size).ToArray()));
            pos = Align(pos + (int)size);
        }
    }

    private static uint Field(ReadOnlySpan<byte> header, int i) =>
        uint.TryParse(Encoding.ASCII.GetString(header.Slice(6 + (i * 8), 8)), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out uint v)
            ? v
            : throw new InvalidDataException($"cpio header field {i} is not hex");

    private static int Align(int p) => (p + 3) & ~3;
}
