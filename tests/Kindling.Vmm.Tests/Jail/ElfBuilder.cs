using System.Buffers.Binary;
using System.Text;

namespace Kindling.Vmm.Tests.Jail;

/// <summary>
/// Writes the smallest x86-64 ELF file a reader accepts: the ELF header and a section table with the given
/// section names (no code, no program headers), as a linker lays them out. Tests use it to give the jailer a
/// "NativeAOT binary" (a <c>__managedcode</c> section) without a minutes-long publish.
/// </summary>
internal static class ElfBuilder
{
    public static byte[] WithSections(params string[] names)
    {
        string[] all = [".shstrtab", .. names];
        byte[] strings = Encoding.ASCII.GetBytes("\0" + string.Join('\0', all) + "\0");
        int stringsOffset = 64;
        int sectionsOffset = (stringsOffset + strings.Length + 7) & ~7;
        int count = all.Length + 1; // section 0 is the null section
        byte[] file = new byte[sectionsOffset + (count * 64)];
        Span<byte> h = file;
        "\u007fELF"u8.CopyTo(h);
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // ELFDATA2LSB
        h[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[40..], (ulong)sectionsOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[60..], (ushort)count);
        BinaryPrimitives.WriteUInt16LittleEndian(h[62..], 1); // .shstrtab
        strings.CopyTo(file, stringsOffset);
        int nameOffset = 1;
        for (int i = 0; i < all.Length; i++)
        {
            Span<byte> section = file.AsSpan(sectionsOffset + ((i + 1) * 64), 64);
            BinaryPrimitives.WriteUInt32LittleEndian(section, (uint)nameOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(section[4..], i == 0 ? 3u : 1u); // SHT_STRTAB, SHT_PROGBITS
            if (i == 0)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(section[24..], (ulong)stringsOffset);
                BinaryPrimitives.WriteUInt64LittleEndian(section[32..], (ulong)strings.Length);
            }

            nameOffset += all[i].Length + 1;
        }

        return file;
    }
}
