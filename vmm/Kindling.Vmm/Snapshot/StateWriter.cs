using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;

namespace Kindling.Vmm.Snapshot;

/// <summary>Little-endian writer of the state file's fields (the counterpart of <see cref="StateReader"/>).</summary>
public sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new();

    public long Length => _buffer.WrittenCount;

    public void U8(byte value) => _buffer.Write([value]);

    public void Bool(bool value) => U8(value ? (byte)1 : (byte)0);

    public void U16(ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        _buffer.Write(b);
    }

    public void U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _buffer.Write(b);
    }

    public void U64(ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        _buffer.Write(b);
    }

    public void I64(long value) => U64(unchecked((ulong)value));

    public void Raw(ReadOnlySpan<byte> bytes) => _buffer.Write(bytes);

    /// <summary>A u32 length, then the bytes.</summary>
    public void Bytes(ReadOnlySpan<byte> bytes)
    {
        U32((uint)bytes.Length);
        Raw(bytes);
    }

    public void String(string value) => Bytes(Encoding.UTF8.GetBytes(value));

    /// <summary>A kernel ABI structure as its bytes, prefixed by its size (checked on read).</summary>
    public void Struct<T>(in T value) where T : unmanaged => Bytes(MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    /// <summary>A section: tag, length, then what <paramref name="body"/> writes.</summary>
    public void Section(uint tag, Action<StateWriter> body)
    {
        var inner = new StateWriter();
        body(inner);
        U32(tag);
        Bytes(inner.ToArray());
    }

    public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
}
