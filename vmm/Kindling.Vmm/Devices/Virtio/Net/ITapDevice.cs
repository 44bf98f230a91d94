using System.Runtime.InteropServices;

namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>
/// The host side of a virtio-net device: one frame (with its 12-byte virtio_net_hdr_v1) per read or write,
/// non-blocking. <see cref="Tap"/> is the real one; tests may use any datagram fd.
/// </summary>
public interface ITapDevice : IDisposable
{
    /// <summary>The fd, for the event loop.</summary>
    SafeHandle Handle { get; }

    /// <summary>Reads one frame; -1 when none is waiting.</summary>
    int Read(Span<byte> frame);

    /// <summary>Writes one frame; false when the device would block (the frame is dropped).</summary>
    bool Write(ReadOnlySpan<byte> frame);

    /// <summary>Tells the host which offloads the guest accepts (TUN_F_* flags).</summary>
    void SetOffload(uint tunFlags);
}
