using System.Buffers.Binary;

namespace Kindling.Vmm.Tests.Boot;

/// <summary>Builds small ELF64 files the way a linker lays out a vmlinux: header, program headers, then segment bytes.</summary>
internal sealed class TestElf
{
    public const int EhdrSize = 64, PhdrSize = 56;

    private readonly List<(uint Type, ulong Vaddr, ulong Paddr, byte[] Data, ulong Memsz)> _segments = [];

    public ulong Entry { get; set; }
    public byte Class { get; set; } = 2;
    public ushort Machine { get; set; } = 62;

    public TestElf Load(ulong vaddr, ulong paddr, byte[] data, ulong memsz)
    {
        _segments.Add((1, vaddr, paddr, data, memsz));
        return this;
    }

    public TestElf Note(byte[] notes)
    {
        _segments.Add((4, 0, 0, notes, (ulong)notes.Length));
        return this;
    }

    /// <summary>A PT_NOTE body holding XEN_ELFNOTE_PHYS32_ENTRY = <paramref name="entry"/>.</summary>
    public static byte[] PvhNote(uint entry)
    {
        byte[] note = new byte[12 + 4 + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(note, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(4), 4);
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(8), 18);
        "Xen\0"u8.CopyTo(note.AsSpan(12));
        BinaryPrimitives.WriteUInt32LittleEndian(note.AsSpan(16), entry);
        return note;
    }

    public byte[] Build()
    {
        int dataStart = EhdrSize + (PhdrSize * _segments.Count);
        int total = dataStart + _segments.Sum(s => s.Data.Length);
        byte[] file = new byte[total];
        Span<byte> f = file;
        "\x7f"u8.CopyTo(f);
        "ELF"u8.CopyTo(f[1..]);
        f[4] = Class;
        f[5] = 1; // little-endian
        f[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(f[16..], 2); // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(f[18..], Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(f[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(f[24..], Entry);
        BinaryPrimitives.WriteUInt64LittleEndian(f[32..], EhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(f[52..], EhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(f[54..], PhdrSize);
        BinaryPrimitives.WriteUInt16LittleEndian(f[56..], (ushort)_segments.Count);
        int offset = dataStart;
        for (int i = 0; i < _segments.Count; i++)
        {
            var s = _segments[i];
            Span<byte> ph = f.Slice(EhdrSize + (i * PhdrSize), PhdrSize);
            BinaryPrimitives.WriteUInt32LittleEndian(ph, s.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(ph[4..], 5);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[8..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[16..], s.Vaddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[24..], s.Paddr);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[32..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[40..], s.Memsz);
            BinaryPrimitives.WriteUInt64LittleEndian(ph[48..], 0x1000);
            s.Data.CopyTo(f[offset..]);
            offset += s.Data.Length;
        }

        return file;
    }
}
