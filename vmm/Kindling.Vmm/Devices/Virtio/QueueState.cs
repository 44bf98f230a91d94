namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// A split virtqueue as the driver configured it and as far as the device has consumed it: enough for a restored
/// device to pick up at the next available entry and fill the next used slot (what Firecracker's QueueState holds).
/// </summary>
public sealed record QueueState
{
    public ushort MaxSize { get; init; }
    public ushort Size { get; init; }
    public bool Ready { get; init; }
    public ulong DescTable { get; init; }
    public ulong AvailRing { get; init; }
    public ulong UsedRing { get; init; }
    public bool EventIdx { get; init; }
    public bool IndirectDesc { get; init; }
    public ushort NextAvail { get; init; }
    public ushort NextUsed { get; init; }
    public ushort SignalledUsed { get; init; }
    public bool SignalledValid { get; init; }
}
