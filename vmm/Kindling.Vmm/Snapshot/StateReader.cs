using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Kindling.Vmm.Snapshot;

/// <summary>
/// Bounds-checked little-endian reader of the state file's fields: every read past the end, every length that does
/// not fit, and every structure of the wrong size is a <see cref="SnapshotException"/> naming what was being read.
/// </summary>
public sealed class StateReader
{
    private readonly ReadOnlyMemory<byte> _data;
    private readonly string _what;
    private int _position;

    public StateReader(ReadOnlyMemory<byte> data, string what)
    {
        _data = data;
        _what = what;
    }

    public bool AtEnd => _position == _data.Length;

    /// <summary>Bytes read so far.</summary>
    public int Position => _position;

    public byte U8() => Take(1, "a byte")[0];

    public bool Bool() => U8() switch
    {
        0 => false,
        1 => true,
        byte b => throw Bad($"a boolean is {b}"),
    };

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, "a u16"));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, "a u32"));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, "a u64"));

    public long I64() => unchecked((long)U64());

    public ReadOnlySpan<byte> Bytes(int maxLength = int.MaxValue)
    {
        uint length = U32();
        if (length > (uint)maxLength)
        {
            throw Bad($"a field of {length} bytes is longer than the {maxLength} allowed");
        }

        return Take((int)length, $"{length} bytes");
    }

    public string String(int maxLength = 1 << 20)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes(maxLength));
        }
        catch (DecoderFallbackException)
        {
            throw Bad("a text field is not UTF-8");
        }
    }

    /// <summary>A count of items, each at least <paramref name="minItemBytes"/> long: refuses counts the rest of the data cannot hold.</summary>
    public int Count(int minItemBytes)
    {
        uint count = U32();
        if ((ulong)count * (ulong)Math.Max(minItemBytes, 1) > (ulong)(_data.Length - _position))
        {
            throw Bad($"a count of {count} items does not fit the {_data.Length - _position} bytes left");
        }

        return (int)count;
    }

    public T Struct<T>(string name) where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = Bytes();
        if (bytes.Length != Unsafe.SizeOf<T>())
        {
            throw Bad($"{name} is {bytes.Length} bytes, this build's is {Unsafe.SizeOf<T>()}");
        }

        return MemoryMarshal.Read<T>(bytes);
    }

    /// <summary>The next section: its tag and a reader over its payload.</summary>
    public (uint Tag, StateReader Body) Section()
    {
        uint tag = U32();
        ReadOnlySpan<byte> payload = Bytes();
        int start = _position - payload.Length;
        return (tag, new StateReader(_data.Slice(start, payload.Length), $"{_what} section {tag}"));
    }

    /// <summary>Throws unless everything was read (a section with trailing bytes is not what this build wrote).</summary>
    public void End()
    {
        if (!AtEnd)
        {
            throw Bad($"{_data.Length - _position} unexpected bytes at the end");
        }
    }

    public SnapshotException Bad(string problem) => new($"{_what}: {problem}");

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count < 0 || count > _data.Length - _position)
        {
            throw Bad($"truncated: {what} needed at offset {_position}, {_data.Length - _position} bytes left");
        }

        ReadOnlySpan<byte> span = _data.Span.Slice(_position, count);
        _position += count;
        return span;
    }
}
