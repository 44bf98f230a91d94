using System.Buffers.Binary;
using System.Text;

namespace Kindling.Vmm.Jail;

/// <summary>
/// What the jailer needs to know about an x86-64 ELF executable or shared library, read from its headers (never
/// mapped, never run): its program interpreter (<c>PT_INTERP</c>), the libraries it names (<c>DT_NEEDED</c>),
/// its run path (<c>DT_RUNPATH</c>/<c>DT_RPATH</c>), and its section names (a NativeAOT binary has
/// <c>__managedcode</c>). Malformed input fails with <see cref="JailException"/> naming the file.
/// </summary>
public sealed class ElfImage
{
    /// <summary>The section the NativeAOT compiler puts managed code in: the mark of a native kindling-vmm.</summary>
    public const string ManagedCodeSection = "__managedcode";

    // <elf.h>
    private const int EI_NIDENT = 16;
    private const byte ELFCLASS64 = 2;
    private const byte ELFDATA2LSB = 1;
    private const ushort EM_X86_64 = 62;
    private const uint PT_LOAD = 1;
    private const uint PT_DYNAMIC = 2;
    private const uint PT_INTERP = 3;
    private const long DT_NULL = 0;
    private const long DT_NEEDED = 1;
    private const long DT_STRTAB = 5;
    private const long DT_RPATH = 15;
    private const long DT_RUNPATH = 29;
    private const int Elf64HeaderSize = 64;
    private const int ProgramHeaderSize = 56;
    private const int SectionHeaderSize = 64;
    private const int DynamicEntrySize = 16;

    /// <summary>Headers larger than this are not an executable we would run (a guard against hostile files).</summary>
    private const int MaxTableBytes = 4 << 20;

    private ElfImage(string path, string? interpreter, IReadOnlyList<string> needed, IReadOnlyList<string> runPath, IReadOnlyList<string> sections)
    {
        Path = path;
        Interpreter = interpreter;
        Needed = needed;
        RunPath = runPath;
        Sections = sections;
    }

    public string Path { get; }

    /// <summary>The dynamic loader the kernel starts for this file (<c>PT_INTERP</c>), or null (static, or a library).</summary>
    public string? Interpreter { get; }

    /// <summary>The sonames of <c>DT_NEEDED</c>, in order.</summary>
    public IReadOnlyList<string> Needed { get; }

    /// <summary>The folders of <c>DT_RUNPATH</c> (or <c>DT_RPATH</c>) with <c>$ORIGIN</c> expanded.</summary>
    public IReadOnlyList<string> RunPath { get; }

    public IReadOnlyList<string> Sections { get; }

    /// <summary>Whether this is a NativeAOT binary: managed code compiled in, no runtime or assemblies beside it.</summary>
    public bool IsNativeAot => Sections.Contains(ManagedCodeSection);

    /// <summary>Whether <paramref name="path"/> is a NativeAOT ELF binary; false for anything else, readable or not.</summary>
    public static bool IsNativeAotFile(string path)
    {
        try
        {
            return File.Exists(path) && Read(path).IsNativeAot;
        }
        catch (JailException)
        {
            return false;
        }
    }

    /// <summary>Reads the headers of <paramref name="path"/>.</summary>
    public static ElfImage Read(string path)
    {
        try
        {
            using var file = File.OpenHandle(path);
            return Read(path, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JailException($"cannot read {path}: {e.Message}", e);
        }
    }

    private static ElfImage Read(string path, Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        long length = RandomAccess.GetLength(file);
        byte[] header = ReadAt(file, 0, (int)Math.Min(Elf64HeaderSize, length), length, path);
        if (!header.AsSpan().StartsWith((ReadOnlySpan<byte>)[0x7f, (byte)'E', (byte)'L', (byte)'F']))
        {
            throw Malformed(path, "no ELF magic");
        }

        if (header.Length < Elf64HeaderSize)
        {
            throw Malformed(path, "the file ends inside the ELF header");
        }

        if (header[4] != ELFCLASS64 || header[5] != ELFDATA2LSB || BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(18)) != EM_X86_64)
        {
            throw Malformed(path, "not a 64-bit little-endian x86-64 ELF file");
        }

        long phoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(32));
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(40));
        int phnum = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(56));
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(60));
        int shstrndx = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(62));

        byte[] programs = ReadAt(file, phoff, phnum * ProgramHeaderSize, length, path);
        List<(ulong VAddr, ulong Offset, ulong Size)> loads = [];
        string? interpreter = null;
        (long Offset, long Size)? dynamic = null;
        for (int i = 0; i < phnum; i++)
        {
            ReadOnlySpan<byte> ph = programs.AsSpan(i * ProgramHeaderSize, ProgramHeaderSize);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(ph);
            long offset = (long)BinaryPrimitives.ReadUInt64LittleEndian(ph[8..]);
            ulong vaddr = BinaryPrimitives.ReadUInt64LittleEndian(ph[16..]);
            long fileSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(ph[32..]);
            switch (type)
            {
                case PT_LOAD:
                    loads.Add((vaddr, (ulong)offset, (ulong)fileSize));
                    break;
                case PT_INTERP:
                    interpreter = CString(ReadAt(file, offset, (int)Math.Min(fileSize, 4096), length, path), 0);
                    break;
                case PT_DYNAMIC:
                    dynamic = (offset, fileSize);
                    break;
            }
        }

        List<string> needed = [];
        List<string> runPath = [];
        if (dynamic is { } dyn)
        {
            ReadDynamic(file, dyn, loads, length, path, needed, runPath);
        }

        return new ElfImage(path, interpreter, needed, runPath, ReadSectionNames(file, shoff, shnum, shstrndx, length, path));
    }

    private static void ReadDynamic(Microsoft.Win32.SafeHandles.SafeFileHandle file, (long Offset, long Size) dyn,
        List<(ulong VAddr, ulong Offset, ulong Size)> loads, long length, string path, List<string> needed, List<string> runPath)
    {
        byte[] entries = ReadAt(file, dyn.Offset, (int)Math.Min(dyn.Size, MaxTableBytes), length, path);
        List<long> neededOffsets = [];
        long? runPathOffset = null;
        ulong? strtab = null;
        for (int at = 0; at + DynamicEntrySize <= entries.Length; at += DynamicEntrySize)
        {
            long tag = BinaryPrimitives.ReadInt64LittleEndian(entries.AsSpan(at));
            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(entries.AsSpan(at + 8));
            if (tag == DT_NULL)
            {
                break;
            }

            switch (tag)
            {
                case DT_NEEDED: neededOffsets.Add((long)value); break;
                case DT_STRTAB: strtab = value; break;
                case DT_RUNPATH: runPathOffset = (long)value; break;
                case DT_RPATH: runPathOffset ??= (long)value; break;
            }
        }

        if (strtab is not { } strtabAddress)
        {
            return;
        }

        // DT_STRTAB is a virtual address: the PT_LOAD segment holding it maps it back to a file offset.
        (ulong VAddr, ulong Offset, ulong Size) segment = loads.FirstOrDefault(l => strtabAddress >= l.VAddr && strtabAddress < l.VAddr + l.Size);
        if (segment.Size == 0)
        {
            throw Malformed(path, "DT_STRTAB is outside every loaded segment");
        }

        long strtabOffset = (long)(segment.Offset + (strtabAddress - segment.VAddr));
        long strtabSize = (long)(segment.Offset + segment.Size) - strtabOffset;
        byte[] strings = ReadAt(file, strtabOffset, (int)Math.Min(strtabSize, MaxTableBytes), length, path);
        needed.AddRange(neededOffsets.Select(o => CString(strings, o)));
        if (runPathOffset is { } rp)
        {
            string origin = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
            runPath.AddRange(CString(strings, rp).Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(d => d.Replace("${ORIGIN}", origin, StringComparison.Ordinal).Replace("$ORIGIN", origin, StringComparison.Ordinal)));
        }
    }

    private static List<string> ReadSectionNames(Microsoft.Win32.SafeHandles.SafeFileHandle file, long shoff, int shnum, int shstrndx, long length, string path)
    {
        if (shoff == 0 || shnum == 0 || shstrndx >= shnum)
        {
            return [];
        }

        byte[] sections = ReadAt(file, shoff, shnum * SectionHeaderSize, length, path);
        ReadOnlySpan<byte> names = sections.AsSpan(shstrndx * SectionHeaderSize, SectionHeaderSize);
        long namesOffset = (long)BinaryPrimitives.ReadUInt64LittleEndian(names[24..]);
        long namesSize = (long)BinaryPrimitives.ReadUInt64LittleEndian(names[32..]);
        byte[] strings = ReadAt(file, namesOffset, (int)Math.Min(namesSize, MaxTableBytes), length, path);
        List<string> result = new(shnum);
        for (int i = 0; i < shnum; i++)
        {
            result.Add(CString(strings, BinaryPrimitives.ReadUInt32LittleEndian(sections.AsSpan(i * SectionHeaderSize))));
        }

        return result;
    }

    private static byte[] ReadAt(Microsoft.Win32.SafeHandles.SafeFileHandle file, long offset, int count, long length, string path)
    {
        if (offset < 0 || count < 0 || count > MaxTableBytes || offset > length - count)
        {
            throw Malformed(path, $"a header table ({count} bytes at {offset}) lies outside the file ({length} bytes)");
        }

        byte[] buffer = new byte[count];
        int read = 0;
        while (read < count)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(read), offset + read);
            if (n == 0)
            {
                throw Malformed(path, "the file ended inside a header table");
            }

            read += n;
        }

        return buffer;
    }

    private static string CString(byte[] table, long offset)
    {
        if (offset < 0 || offset >= table.Length)
        {
            return "";
        }

        int end = Array.IndexOf(table, (byte)0, (int)offset);
        return Encoding.UTF8.GetString(table, (int)offset, (end < 0 ? table.Length : end) - (int)offset);
    }

    private static JailException Malformed(string path, string why) => new($"{path} is not an executable the jail can hold: {why}");
}
