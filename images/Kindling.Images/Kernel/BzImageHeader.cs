using System.Buffers.Binary;

namespace Kindling.Images.Kernel;

/// <summary>
/// The fields of a bzImage's real-mode setup header (Documentation/arch/x86/boot.rst) that extraction needs.
/// Offsets are from the start of the file.
/// </summary>
public sealed record BzImageHeader(
    int SetupSects,
    ushort Version,
    uint PayloadOffset,
    uint PayloadLength,
    ulong PrefAddress,
    uint InitSize,
    uint KernelAlignment)
{
    /// <summary><c>setup_sects</c>: 512-byte sectors of setup code after the boot sector (0 means 4).</summary>
    public const int SetupSectsOffset = 0x1f1;

    /// <summary><c>header</c>: the magic "HdrS".</summary>
    public const int HeaderMagicOffset = 0x202;

    /// <summary>"HdrS" as a little-endian u32.</summary>
    public const uint HeaderMagic = 0x53726448;

    public const int VersionOffset = 0x206;
    public const int KernelAlignmentOffset = 0x230;
    public const int PayloadOffsetOffset = 0x248;
    public const int PayloadLengthOffset = 0x24c;
    public const int PrefAddressOffset = 0x258;
    public const int InitSizeOffset = 0x260;

    /// <summary>Boot protocol 2.08 introduced payload_offset/payload_length.</summary>
    public const ushort MinVersionWithPayload = 0x0208;

    private const int SectorSize = 512;
    private const int DefaultSetupSects = 4;

    /// <summary>File offset of the protected-mode kernel (where payload_offset counts from).</summary>
    public int ProtectedModeOffset => (SetupSects + 1) * SectorSize;

    /// <summary>File offset of the compressed payload.</summary>
    public long PayloadFileOffset => ProtectedModeOffset + (long)PayloadOffset;

    public static BzImageHeader Parse(ReadOnlySpan<byte> image)
    {
        if (image.Length < InitSizeOffset + 4)
        {
            throw new InvalidDataException($"bzImage too small ({image.Length} bytes) for a setup header");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(image[HeaderMagicOffset..]) != HeaderMagic)
        {
            throw new InvalidDataException("not a bzImage: setup header magic \"HdrS\" missing at 0x202");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(image[VersionOffset..]);
        if (version < MinVersionWithPayload)
        {
            throw new InvalidDataException($"boot protocol {version >> 8}.{version & 0xff:D2} has no payload fields (needs 2.08+)");
        }

        int setupSects = image[SetupSectsOffset] == 0 ? DefaultSetupSects : image[SetupSectsOffset];
        BzImageHeader h = new(
            setupSects,
            version,
            BinaryPrimitives.ReadUInt32LittleEndian(image[PayloadOffsetOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[PayloadLengthOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(image[PrefAddressOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[InitSizeOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(image[KernelAlignmentOffset..]));
        if (h.PayloadLength == 0 || h.PayloadFileOffset + h.PayloadLength > image.Length)
        {
            throw new InvalidDataException(
                $"bzImage payload (offset {h.PayloadFileOffset}, length {h.PayloadLength}) lies outside the {image.Length}-byte file");
        }

        return h;
    }

    /// <summary>The compressed payload bytes.</summary>
    public ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> image) =>
        image.Slice(checked((int)PayloadFileOffset), checked((int)PayloadLength));
}
