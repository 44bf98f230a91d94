using System.Runtime.InteropServices;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Devices.Virtio.Block;

/// <summary>struct virtio_blk_outhdr (virtio 1.2 §5.2.6).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioBlkOutHdr
{
    public const int Size = 16;
    public uint Type;
    public uint Reserved;
    public ulong Sector;
}

/// <summary>
/// A parsed virtio-blk request: header (device-readable), data buffers, and the 1-byte status (the last,
/// device-writable, descriptor). Parsing checks only the shape; <see cref="DiskBackend"/> checks ranges.
/// </summary>
public readonly struct BlockRequest
{
    public const uint VIRTIO_BLK_T_IN = 0;
    public const uint VIRTIO_BLK_T_OUT = 1;
    public const uint VIRTIO_BLK_T_FLUSH = 4;
    public const uint VIRTIO_BLK_T_GET_ID = 8;

    public const byte VIRTIO_BLK_S_OK = 0;
    public const byte VIRTIO_BLK_S_IOERR = 1;
    public const byte VIRTIO_BLK_S_UNSUPP = 2;

    public const int SectorSize = 512;

    private BlockRequest(uint type, ulong sector, GuestAddress status, int firstData, int dataCount, ulong dataLength)
    {
        Type = type;
        Sector = sector;
        StatusAddress = status;
        FirstData = firstData;
        DataCount = dataCount;
        DataLength = dataLength;
    }

    public uint Type { get; }

    public ulong Sector { get; }

    public GuestAddress StatusAddress { get; }

    /// <summary>Index in the chain of the first data descriptor.</summary>
    public int FirstData { get; }

    public int DataCount { get; }

    public ulong DataLength { get; }

    /// <summary>
    /// Parses <paramref name="chain"/>. Null error: a request whose status can be written. Otherwise the chain
    /// cannot even carry a status (complete it with length 0), and the error says why.
    /// </summary>
    public static string? TryParse(IGuestMemory memory, DescriptorChain chain, out BlockRequest request)
    {
        request = default;
        if (chain.Count < 2)
        {
            return "a block request needs a header and a status descriptor";
        }

        Descriptor header = chain[0];
        if (header.IsWriteOnly || header.Length < VirtioBlkOutHdr.Size)
        {
            return $"request header is {(header.IsWriteOnly ? "device-writable" : $"{header.Length} bytes")}";
        }

        Descriptor status = chain[chain.Count - 1];
        if (!status.IsWriteOnly || status.Length < 1)
        {
            return "the last descriptor (status) is not a device-writable byte";
        }

        VirtioBlkOutHdr hdr = memory.Read<VirtioBlkOutHdr>(header.Address);
        ulong dataLength = 0;
        for (int i = 1; i < chain.Count - 1; i++)
        {
            dataLength += chain[i].Length;
        }

        request = new BlockRequest(hdr.Type, hdr.Sector, status.Address, 1, chain.Count - 2, dataLength);
        return null;
    }
}
