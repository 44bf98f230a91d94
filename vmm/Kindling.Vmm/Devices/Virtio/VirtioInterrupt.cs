namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// The interrupt status register of a transport and the line behind it: a device sets VIRTIO_MMIO_INT_VRING
/// (used buffer) or VIRTIO_MMIO_INT_CONFIG (config change) and the line fires; the driver clears bits with
/// InterruptACK. A device that finds its queues unusable asks for NEEDS_RESET here.
/// </summary>
public sealed class VirtioInterrupt
{
    public const uint VIRTIO_MMIO_INT_VRING = 1;
    public const uint VIRTIO_MMIO_INT_CONFIG = 2;

    private readonly IInterruptTrigger _trigger;
    private readonly Action<string> _needsReset;
    private int _status;

    public VirtioInterrupt(IInterruptTrigger trigger, Action<string> needsReset)
    {
        _trigger = trigger;
        _needsReset = needsReset;
    }

    public uint Status => (uint)Volatile.Read(ref _status);

    /// <summary>The device put buffers in a used ring.</summary>
    public void SignalUsedBuffer() => Raise(VIRTIO_MMIO_INT_VRING);

    /// <summary>The device changed its config space.</summary>
    public void SignalConfigChange() => Raise(VIRTIO_MMIO_INT_CONFIG);

    /// <summary>Sets DEVICE_NEEDS_RESET in the status and raises a config-change interrupt (virtio 1.2 §2.1.2).</summary>
    public void NeedsReset(string reason) => _needsReset(reason);

    internal void Acknowledge(uint bits) => Interlocked.And(ref _status, (int)~bits);

    internal void Clear() => Volatile.Write(ref _status, 0);

    /// <summary>Sets the status bits a snapshot recorded (restore only; raises nothing).</summary>
    internal void Restore(uint bits) => Volatile.Write(ref _status, (int)bits);

    private void Raise(uint bit)
    {
        Interlocked.Or(ref _status, (int)bit);
        _trigger.Trigger();
    }
}
