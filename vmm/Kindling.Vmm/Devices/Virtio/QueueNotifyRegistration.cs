namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// Where the driver notifies queue <see cref="QueueIndex"/>: a 4-byte write of <see cref="DataMatch"/> at
/// guest-physical <see cref="Address"/>. The VM registers an ioeventfd for it (KVM_IOEVENTFD with datamatch) and
/// calls <see cref="MmioTransport.OnQueueNotified"/> from the event loop when the eventfd fires.
/// </summary>
public readonly record struct QueueNotifyRegistration(int QueueIndex, ulong Address, uint DataMatch, int Length);
