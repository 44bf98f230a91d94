using System.Runtime.InteropServices;

namespace Kindling.Vmm.Devices.Virtio.Vsock;

/// <summary>struct virtio_vsock_hdr (virtio 1.2 §5.10.6): 44 bytes, little-endian, packed.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VsockHeader
{
    public const int Size = 44;

    public const ushort VIRTIO_VSOCK_TYPE_STREAM = 1;

    public const ushort VIRTIO_VSOCK_OP_INVALID = 0;
    public const ushort VIRTIO_VSOCK_OP_REQUEST = 1;
    public const ushort VIRTIO_VSOCK_OP_RESPONSE = 2;
    public const ushort VIRTIO_VSOCK_OP_RST = 3;
    public const ushort VIRTIO_VSOCK_OP_SHUTDOWN = 4;
    public const ushort VIRTIO_VSOCK_OP_RW = 5;
    public const ushort VIRTIO_VSOCK_OP_CREDIT_UPDATE = 6;
    public const ushort VIRTIO_VSOCK_OP_CREDIT_REQUEST = 7;

    public const uint VIRTIO_VSOCK_SHUTDOWN_RCV = 1;
    public const uint VIRTIO_VSOCK_SHUTDOWN_SEND = 2;

    /// <summary>The host's CID.</summary>
    public const ulong VMADDR_CID_HOST = 2;

    public ulong SrcCid;
    public ulong DstCid;
    public uint SrcPort;
    public uint DstPort;
    public uint Len;
    public ushort Type;
    public ushort Op;
    public uint Flags;
    public uint BufAlloc;
    public uint FwdCnt;
}
