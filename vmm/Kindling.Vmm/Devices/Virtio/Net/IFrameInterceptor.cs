namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>
/// A hook in virtio-net between the guest and the TAP: every Ethernet frame the guest transmits is offered here
/// first (the metadata service answers ARP/TCP for 169.254.169.254 this way), and frames the interceptor produces
/// are delivered to the guest's RX queue ahead of TAP traffic. Frames are hostile guest data.
/// </summary>
public interface IFrameInterceptor
{
    /// <summary>Offers a guest-transmitted frame (without the virtio-net header). True: consumed, do not send it to the TAP.</summary>
    bool TryIntercept(ReadOnlySpan<byte> frame);

    /// <summary>True when frames wait for the guest.</summary>
    bool HasPendingFrames { get; }

    /// <summary>Copies the next frame for the guest into <paramref name="buffer"/>; false when none (or it does not fit, then it stays queued).</summary>
    bool TryDequeue(Span<byte> buffer, out int length);

    /// <summary>Raised when a frame becomes pending (e.g. a timer-driven retransmit), so the device can fill RX buffers.</summary>
    event Action? FramesPending;
}
