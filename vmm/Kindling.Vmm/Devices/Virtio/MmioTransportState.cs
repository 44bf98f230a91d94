namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// One virtio-mmio transport's registers (feature negotiation, status, selectors, interrupt status, config
/// generation) and its queues. The device's own config space is rebuilt from its configuration (capacity from
/// the backing file, MAC, CID), not stored: what the guest read stays true because the configuration is the same.
/// </summary>
public sealed record MmioTransportState
{
    public uint DeviceType { get; init; }
    public uint Status { get; init; }
    public uint DeviceFeaturesSel { get; init; }
    public uint DriverFeaturesSel { get; init; }
    public ulong DriverFeatures { get; init; }
    public uint QueueSel { get; init; }
    public uint ConfigGeneration { get; init; }
    public bool Activated { get; init; }
    public uint InterruptStatus { get; init; }
    public IReadOnlyList<QueueState> Queues { get; init; } = [];
}
