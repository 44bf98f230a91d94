using System.Buffers.Binary;

namespace Kindling.Images.Kernel;

/// <summary>
/// Decodes the LZ4 "legacy" frame format that the kernel's build uses for an LZ4-compressed bzImage payload
/// (<c>lz4 -l</c>, then <c>size_append</c>): a 4-byte magic, then blocks of (4-byte little-endian compressed size,
/// LZ4 block) each expanding to at most 8 MiB, optionally further legacy frames (another magic), and finally the
/// 4-byte uncompressed size that the kernel's build appends. Every read and every copy is bounds-checked; malformed
/// input raises <see cref="InvalidDataException"/>.
/// </summary>
public static class Lz4LegacyDecoder
{
    /// <summary>LZ4 legacy frame magic (<c>LZ4IO_LEGACY_MAGICNUMBER</c>).</summary>
    public const uint LegacyMagic = 0x184C2102;

    /// <summary>Largest decompressed block in the legacy format (<c>LEGACY_BLOCKSIZE</c>, 8 MiB).</summary>
    public const int LegacyBlockSize = 8 << 20;

    private const int MinMatch = 4;
    private const int RunMask = 0x0F;
    private const int MaxOutput = 1 << 30;

    /// <summary>Decompresses a whole legacy-format stream.</summary>
    public static byte[] Decode(ReadOnlySpan<byte> input)
    {
        if (input.Length < 4 || BinaryPrimitives.ReadUInt32LittleEndian(input) != LegacyMagic)
        {
            throw new InvalidDataException($"not an LZ4 legacy stream: expected magic 0x{LegacyMagic:X8}");
        }

        using MemoryStream output = new();
        byte[] block = new byte[LegacyBlockSize];
        int pos = 4;
        while (pos < input.Length)
        {
            if (input.Length - pos < 4)
            {
                throw new InvalidDataException($"truncated LZ4 block header at offset {pos}");
            }

            uint size = BinaryPrimitives.ReadUInt32LittleEndian(input[pos..]);
            pos += 4;
            if (size == LegacyMagic)
            {
                continue; // A concatenated legacy frame.
            }

            if (pos == input.Length)
            {
                // The kernel's size_append trailer: the total decompressed size.
                if (size != output.Length)
                {
                    throw new InvalidDataException(
                        $"LZ4 payload trailer says {size} bytes but {output.Length} were decoded");
                }

                break;
            }

            if (size == 0 || size > input.Length - pos)
            {
                throw new InvalidDataException(
                    $"LZ4 block at offset {pos - 4} claims {size} bytes but {input.Length - pos} remain");
            }

            int n = DecodeBlock(input.Slice(pos, (int)size), block);
            if (output.Length + n > MaxOutput)
            {
                throw new InvalidDataException("LZ4 payload expands beyond 1 GiB");
            }

            output.Write(block, 0, n);
            pos += (int)size;
        }

        return output.ToArray();
    }

    /// <summary>Decodes one raw LZ4 block into <paramref name="output"/>; returns the bytes written.</summary>
    public static int DecodeBlock(ReadOnlySpan<byte> src, Span<byte> output)
    {
        int ip = 0;
        int op = 0;
        while (true)
        {
            if (ip >= src.Length)
            {
                throw new InvalidDataException("LZ4 block ends without a final literal run");
            }

            int token = src[ip++];
            int literalLength = token >> 4;
            if (literalLength == RunMask)
            {
                literalLength += ReadLength(src, ref ip);
            }

            if (literalLength > src.Length - ip)
            {
                throw new InvalidDataException($"LZ4 literal run of {literalLength} bytes overruns the block");
            }

            if (literalLength > output.Length - op)
            {
                throw new InvalidDataException("LZ4 literal run overruns the 8 MiB output block");
            }

            src.Slice(ip, literalLength).CopyTo(output[op..]);
            ip += literalLength;
            op += literalLength;
            if (ip == src.Length)
            {
                return op; // The last sequence has literals only.
            }

            if (src.Length - ip < 2)
            {
                throw new InvalidDataException("LZ4 match offset truncated");
            }

            int offset = BinaryPrimitives.ReadUInt16LittleEndian(src[ip..]);
            ip += 2;
            if (offset == 0 || offset > op)
            {
                throw new InvalidDataException($"LZ4 match offset {offset} points before the block start ({op} bytes out)");
            }

            int matchLength = token & RunMask;
            if (matchLength == RunMask)
            {
                matchLength += ReadLength(src, ref ip);
            }

            matchLength += MinMatch;
            if (matchLength > output.Length - op)
            {
                throw new InvalidDataException("LZ4 match overruns the 8 MiB output block");
            }

            // Overlapping copies repeat the pattern, so copy byte by byte when the regions overlap.
            int from = op - offset;
            if (offset >= matchLength)
            {
                output.Slice(from, matchLength).CopyTo(output[op..]);
            }
            else
            {
                for (int i = 0; i < matchLength; i++)
                {
                    output[op + i] = output[from + i];
                }
            }

            op += matchLength;
        }
    }

    private static int ReadLength(ReadOnlySpan<byte> src, ref int ip)
    {
        int length = 0;
        int b;
        do
        {
            if (ip >= src.Length)
            {
                throw new InvalidDataException("LZ4 length extension truncated");
            }

            b = src[ip++];
            length += b;
            if (length > MaxOutput)
            {
                throw new InvalidDataException("LZ4 length extension is absurdly large");
            }
        }
        while (b == 255);
        return length;
    }
}
