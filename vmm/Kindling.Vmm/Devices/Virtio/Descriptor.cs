using System.Runtime.InteropServices;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>struct virtq_desc (virtio 1.2 §2.7.5): 16 bytes, little-endian.</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct VirtqDesc
{
    public const ushort VIRTQ_DESC_F_NEXT = 1;
    public const ushort VIRTQ_DESC_F_WRITE = 2;
    public const ushort VIRTQ_DESC_F_INDIRECT = 4;
    public const int Size = 16;

    public ulong Addr;
    public uint Len;
    public ushort Flags;
    public ushort Next;
}

/// <summary>One validated buffer of a chain: a guest range that lies inside guest RAM, and its direction.</summary>
public readonly record struct Descriptor(Memory.GuestAddress Address, uint Length, bool IsWriteOnly);
