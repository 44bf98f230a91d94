namespace Kindling.Images.Kernel;

/// <summary>Extracts the ELF vmlinux from a bzImage whose payload is LZ4 (legacy frame), and checks it.</summary>
public static class KernelExtractor
{
    /// <summary>LZ4 legacy magic as the payload's first bytes.</summary>
    private static ReadOnlySpan<byte> Lz4Magic => [0x02, 0x21, 0x4C, 0x18];

    /// <summary>Returns the vmlinux bytes, validated against the bzImage's header.</summary>
    public static (byte[] Vmlinux, BzImageHeader Header, ElfImage Elf) ExtractVmlinux(ReadOnlySpan<byte> bzImage)
    {
        BzImageHeader header = BzImageHeader.Parse(bzImage);
        ReadOnlySpan<byte> payload = header.Payload(bzImage);
        if (!payload.StartsWith(Lz4Magic))
        {
            throw new InvalidDataException(
                $"bzImage payload starts with {Convert.ToHexString(payload[..Math.Min(4, payload.Length)])}, not LZ4 " +
                "(0x184C2102); only LZ4-compressed kernels (Debian cloud kernels) are supported");
        }

        byte[] vmlinux = Lz4LegacyDecoder.Decode(payload);
        ElfImage elf = ElfImage.Parse(vmlinux);
        elf.ValidateAgainst(header);
        return (vmlinux, header, elf);
    }
}
