using System.Buffers.Binary;

namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>
/// Finishes a checksum the driver left to the device (VIRTIO_NET_HDR_F_NEEDS_CSUM, virtio 1.2 §5.1.6.2): Linux
/// negotiates VIRTIO_NET_F_CSUM and then sends TCP/UDP with only the pseudo-header sum in the checksum field. The
/// TAP completes such frames itself (it gets the header); a consumer inside the VMM (the metadata service) gets the
/// frame with its checksum finished here, as a NIC with checksum offload would put it on the wire.
/// </summary>
public static class VirtioNetChecksum
{
    /// <summary>VIRTIO_NET_HDR_F_NEEDS_CSUM.</summary>
    public const byte FlagNeedsCsum = 1;

    /// <summary>
    /// Completes the checksum of <paramref name="frame"/> (the Ethernet frame after the header) as
    /// <paramref name="header"/> asks; false when the header points outside the frame (the frame is left as is).
    /// </summary>
    public static bool Complete(in VirtioNetHeader header, Span<byte> frame)
    {
        if ((header.Flags & FlagNeedsCsum) == 0)
        {
            return true;
        }

        int start = header.CsumStart, field = header.CsumStart + header.CsumOffset;
        if (start >= frame.Length || field + sizeof(ushort) > frame.Length)
        {
            return false;
        }

        // The field holds the pseudo-header sum; summing from csum_start includes it, as the spec intends.
        uint sum = 0;
        ReadOnlySpan<byte> data = frame[start..];
        int i = 0;
        for (; i + 1 < data.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        }

        if (i < data.Length)
        {
            sum += (uint)data[i] << 8;
        }

        while (sum >> 16 != 0)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        BinaryPrimitives.WriteUInt16BigEndian(frame[field..], (ushort)~sum);
        return true;
    }
}
