using System.Buffers.Binary;
using Kindling.Images.Kernel;

namespace Kindling.Images.Tests.Kernel;

public sealed class Lz4LegacyDecoderTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    [InlineData((8 << 20) + 12345)] // more than one 8 MiB legacy block
    public async Task Decode_Lz4CliLegacyOutputWithSizeTrailer_RoundTrips(int length)
    {
        byte[] data = SampleData(length);
        byte[] compressed = await CompressLegacyAsync(data);
        byte[] withTrailer = [.. compressed, .. BitConverter.GetBytes((uint)data.Length)];

        Assert.Equal(data, Lz4LegacyDecoder.Decode(withTrailer));
        Assert.Equal(data, Lz4LegacyDecoder.Decode(compressed)); // the trailer is optional
    }

    [Fact]
    public async Task Decode_TruncatedStream_Throws()
    {
        byte[] compressed = await CompressLegacyAsync(SampleData(100_000));
        Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.Decode(compressed.AsSpan(0, compressed.Length - 7)));
    }

    [Fact]
    public async Task Decode_WrongSizeTrailer_Throws()
    {
        byte[] compressed = await CompressLegacyAsync(SampleData(5000));
        Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.Decode([.. compressed, .. BitConverter.GetBytes(4999u)]));
    }

    [Fact]
    public void Decode_BadMagic_Throws()
    {
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.Decode([0x04, 0x22, 0x4D, 0x18, 0, 0, 0, 0]));
        Assert.Contains("magic", e.Message);
    }

    [Fact]
    public void DecodeBlock_MatchOffsetBeforeStart_Throws()
    {
        // token: 1 literal, match length 4; literal 'a'; offset 2 (only 1 byte written so far).
        byte[] block = [0x10, (byte)'a', 0x02, 0x00];
        InvalidDataException e = Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.DecodeBlock(block, new byte[64]));
        Assert.Contains("offset", e.Message);
    }

    [Fact]
    public void DecodeBlock_OverlappingMatch_RepeatsPattern()
    {
        // "ab" then a match at offset 2, length 4 + 2 = 6 → "abababab", then the final literal run "c".
        byte[] block = [0x22, (byte)'a', (byte)'b', 0x02, 0x00, 0x10, (byte)'c'];
        byte[] output = new byte[64];
        int n = Lz4LegacyDecoder.DecodeBlock(block, output);
        Assert.Equal("ababababc", System.Text.Encoding.ASCII.GetString(output, 0, n));
    }

    [Fact]
    public void DecodeBlock_OutputOverrun_Throws()
    {
        byte[] block = [0x50, 1, 2, 3, 4, 5];
        Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.DecodeBlock(block, new byte[4]));
    }

    [Fact]
    public void Decode_BlockSizeBeyondInput_Throws()
    {
        byte[] stream = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(stream, Lz4LegacyDecoder.LegacyMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(stream.AsSpan(4), 1000);
        Assert.Throws<InvalidDataException>(() => Lz4LegacyDecoder.Decode(stream));
    }

    private static byte[] SampleData(int length)
    {
        Random r = new(length);
        byte[] d = new byte[length];
        for (int i = 0; i < length; i++)
        {
            d[i] = i % 1024 < 512 ? (byte)(i % 7) : (byte)r.Next(256); // compressible and incompressible runs
        }

        return d;
    }

    private static async Task<byte[]> CompressLegacyAsync(byte[] data)
    {
        string input = Path.GetTempFileName();
        string output = input + ".lz4";
        try
        {
            await File.WriteAllBytesAsync(input, data, TestContext.Current.CancellationToken);
            var r = await Tools.RunAsync("lz4", "-l", "-9", "-q", "-f", input, output);
            Assert.True(r.Exit == 0, r.Err);
            return await File.ReadAllBytesAsync(output, TestContext.Current.CancellationToken);
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
        }
    }
}
