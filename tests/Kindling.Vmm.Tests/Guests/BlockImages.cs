namespace Kindling.Vmm.Tests.Guests;

/// <summary>
/// The disk images the <c>blk</c> guest expects (tests/guests/blk.c): sector 0 holds byte i = i·13+7 with a magic
/// text over its start ("KINDLING-BLK-RW" on the read-write drive, "KINDLING-BLK-RO" on the read-only one); the
/// guest writes sector 1 of the read-write drive as byte i = i·31+1 under "KINDLING-BLK-WRITTEN".
/// </summary>
internal static class BlockImages
{
    public const int SectorSize = 512;
    public const int Sectors = 8;

    public static byte[] Sector0(bool readOnly) => Pattern(13, 7, readOnly ? "KINDLING-BLK-RO" : "KINDLING-BLK-RW");

    public static byte[] WrittenSector1 => Pattern(31, 1, "KINDLING-BLK-WRITTEN");

    /// <summary>Writes an image of <see cref="Sectors"/> sectors: the pattern in sector 0, zeros elsewhere.</summary>
    public static string Create(string directory, bool readOnly)
    {
        string path = Path.Combine(directory, readOnly ? "ro.img" : "rw.img");
        byte[] image = new byte[SectorSize * Sectors];
        Sector0(readOnly).CopyTo(image, 0);
        File.WriteAllBytes(path, image);
        return path;
    }

    public static byte[] ReadSector(string path, int sector) =>
        File.ReadAllBytes(path).AsSpan(sector * SectorSize, SectorSize).ToArray();

    private static byte[] Pattern(int mul, int add, string magic)
    {
        byte[] b = new byte[SectorSize];
        for (int i = 0; i < SectorSize; i++)
        {
            b[i] = unchecked((byte)(i * mul + add));
        }

        System.Text.Encoding.ASCII.GetBytes(magic).CopyTo(b, 0);
        return b;
    }
}
