using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// A virtio device's logic, apart from its transport (<see cref="MmioTransport"/> knows only this interface).
/// Queue processing runs on the event loop thread; the transport serializes calls into the device.
/// </summary>
public interface IVirtioDevice
{
    /// <summary>Virtio device ID (<see cref="VirtioSpec.VIRTIO_ID_BLOCK"/> …).</summary>
    uint DeviceType { get; }

    /// <summary>Features the device offers (including VIRTIO_F_VERSION_1).</summary>
    ulong AvailableFeatures { get; }

    /// <summary>Maximum size of each queue; the count is the number of queues.</summary>
    IReadOnlyList<ushort> QueueMaxSizes { get; }

    /// <summary>Reads device config space at <paramref name="offset"/> (bytes past the end read as zero).</summary>
    void ReadConfig(ulong offset, Span<byte> data);

    /// <summary>Writes device config space (most devices ignore writes).</summary>
    void WriteConfig(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>Called on DRIVER_OK with the validated queues, the negotiated features and the interrupt path.</summary>
    void Activate(VirtioActivation activation);

    /// <summary>The driver notified queue <paramref name="queueIndex"/> (only after activation).</summary>
    void ProcessQueue(int queueIndex);

    /// <summary>Device reset (status written 0): drop queues and in-flight state, keep backends.</summary>
    void Reset();
}

/// <summary>What a device gets on activation.</summary>
/// <param name="Gate">The transport's lock: take it in callbacks that do not come through the transport (TAP, sockets, timers).</param>
public sealed record VirtioActivation(IReadOnlyList<Queue> Queues, IGuestMemory Memory, ulong AckedFeatures, VirtioInterrupt Interrupt, Lock Gate)
{
    public bool HasFeature(int bit) => (AckedFeatures & VirtioSpec.Bit(bit)) != 0;
}
