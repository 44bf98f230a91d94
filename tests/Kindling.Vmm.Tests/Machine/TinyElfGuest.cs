using System.Buffers.Binary;

namespace Kindling.Vmm.Tests.Machine;

/// <summary>
/// A hand-made ELF64 "kernel" of a few 64-bit instructions, loaded at 1 MiB and entered like a vmlinux: it writes
/// one byte to COM1, then resets the machine through the i8042 (0xFE to port 0x64).
/// </summary>
internal static class TinyElfGuest
{
    public const ulong LoadAddress = 0x10_0000;
    public const byte Marker = (byte)'K';

    private const int CodeOffset = 0x1000;

    // mov dx, 0x3f8; mov al, 'K'; out dx, al; mov al, 0xfe; out 0x64, al; hlt; jmp $-1
    private static readonly byte[] Code = [0x66, 0xba, 0xf8, 0x03, 0xb0, Marker, 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd];

    /// <summary>What <see cref="WriteStringIo"/>'s guest prints: the scratch register, read back 8 times.</summary>
    public const byte StringIoMarker = (byte)'Z';

    /// <summary>Bytes the string-I/O guest moves with each of <c>rep insb</c> and <c>rep outsb</c>.</summary>
    public const int StringIoCount = 8;

    // mov dx, 0x3ff; mov al, 'Z'; out dx, al          (COM1's scratch register := 'Z')
    // mov edi, 0x200000; mov ecx, 8; rep insb          (8 reads of it: KVM hands INS over as one exit, count 8)
    // mov dx, 0x3f8; mov esi, 0x200000; mov ecx, 8; rep outsb   (the 8 bytes to COM1: OUTS exits per byte)
    // mov al, 0xfe; out 0x64, al; hlt; jmp $-1
    private static readonly byte[] StringIoCode =
    [
        0x66, 0xba, 0xff, 0x03, 0xb0, StringIoMarker, 0xee,
        0xbf, 0x00, 0x00, 0x20, 0x00, 0xb9, StringIoCount, 0x00, 0x00, 0x00, 0xf3, 0x6c,
        0x66, 0xba, 0xf8, 0x03, 0xbe, 0x00, 0x00, 0x20, 0x00, 0xb9, StringIoCount, 0x00, 0x00, 0x00, 0xf3, 0x6e,
        0xb0, 0xfe, 0xe6, 0x64, 0xf4, 0xeb, 0xfd,
    ];

    // jmp $ : spins until the VMM stops the vCPU.
    private static readonly byte[] SpinCode = [0xeb, 0xfe];

    public static string WriteSpinner(string directory) => Write(directory, SpinCode, "spin-guest.elf");

    public static string Write(string directory) => Write(directory, Code, "tiny-guest.elf");

    /// <summary>A guest whose port I/O uses <c>rep insb</c>/<c>rep outsb</c> (I/O exits with count &gt; 1).</summary>
    public static string WriteStringIo(string directory) => Write(directory, StringIoCode, "string-io-guest.elf");

    private static string Write(string directory, byte[] code, string name)
    {
        byte[] image = new byte[CodeOffset + code.Length];
        Span<byte> h = image;
        h[0] = 0x7f;
        h[1] = (byte)'E';
        h[2] = (byte)'L';
        h[3] = (byte)'F';
        h[4] = 2; // ELFCLASS64
        h[5] = 1; // ELFDATA2LSB
        h[6] = 1; // EV_CURRENT
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], 2);   // ET_EXEC
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], 62);  // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);   // e_version
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], LoadAddress); // e_entry
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], 64);  // e_phoff
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], 64);  // e_ehsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], 56);  // e_phentsize
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], 1);   // e_phnum
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], 64);  // e_shentsize
        Span<byte> p = h[64..];
        BinaryPrimitives.WriteUInt32LittleEndian(p, 1);         // PT_LOAD
        BinaryPrimitives.WriteUInt32LittleEndian(p[4..], 5);    // PF_R | PF_X
        BinaryPrimitives.WriteUInt64LittleEndian(p[8..], CodeOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(p[16..], LoadAddress); // p_vaddr
        BinaryPrimitives.WriteUInt64LittleEndian(p[24..], LoadAddress); // p_paddr
        BinaryPrimitives.WriteUInt64LittleEndian(p[32..], (ulong)code.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(p[40..], (ulong)code.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 0x1000);
        code.CopyTo(h[CodeOffset..]);

        string path = Path.Combine(directory, name);
        File.WriteAllBytes(path, image);
        return path;
    }
}
