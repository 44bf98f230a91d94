using System.Runtime.InteropServices;

namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>struct virtio_net_hdr_v1 (virtio 1.2 §5.1.6): 12 bytes before every frame.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtioNetHeader
{
    public const int Size = 12;
    public const int NumBuffersOffset = 10;

    /// <summary>VIRTIO_NET_HDR_GSO_NONE: not a segmentation-offload frame.</summary>
    public const byte GsoNone = 0;

    public byte Flags;
    public byte GsoType;
    public ushort HdrLen;
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;
    public ushort NumBuffers;
}
