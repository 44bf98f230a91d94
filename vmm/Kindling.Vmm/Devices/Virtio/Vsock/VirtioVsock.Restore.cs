namespace Kindling.Vmm.Devices.Virtio.Vsock;

public sealed partial class VirtioVsock
{
    /// <summary>VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (virtio 1.2 §5.10.6.1).</summary>
    public const uint VIRTIO_VSOCK_EVENT_TRANSPORT_RESET = 0;

    /// <summary>
    /// After a restore: the host side of every connection is gone (this device starts with none), so the guest is
    /// told with a transport-reset event on the event queue, as Firecracker does; the guest's driver then resets its
    /// sockets and re-reads the CID. False when the driver posted no event buffer (nothing to tell it with).
    /// </summary>
    public bool SendTransportReset()
    {
        VirtioActivation? a = Active;
        if (a is null || !a.Queues[EventQueue].Ready)
        {
            return false;
        }

        Queue queue = a.Queues[EventQueue];
        PopResult result = PopChain(a, queue, EventQueue, out DescriptorChain chain);
        if (result is PopResult.Empty or PopResult.Broken)
        {
            return false;
        }

        uint length = 0;
        if (result == PopResult.Chain)
        {
            Span<byte> evt = stackalloc byte[sizeof(uint)];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(evt, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
            length = chain.Scatter(a.Memory, evt);
        }

        if (!TryAddUsed(a, queue, EventQueue, chain.Head, length))
        {
            return false;
        }

        if (queue.NeedsNotification(a.Memory))
        {
            a.Interrupt.SignalUsedBuffer();
        }

        return result == PopResult.Chain;
    }
}
