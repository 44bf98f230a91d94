using System.Buffers.Binary;

namespace Kindling.Vmm.Devices.Virtio.Block;

public sealed partial class VirtioBlock
{
    /// <summary>
    /// PATCH /drives/{id} path_on_host: serves the drive from <paramref name="next"/> from now on (a restored clone's
    /// own overlay). Call under the transport's lock. The new file must be as read-only as the old (the feature bits
    /// the driver negotiated cannot change); a capacity change is announced with a config-change interrupt. The old
    /// file is closed; on refusal <paramref name="next"/> is closed and the drive is unchanged.
    /// </summary>
    public void SwapDisk(DiskBackend next)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (next.IsReadOnly != _disk.IsReadOnly)
        {
            next.Dispose();
            throw new VirtioDeviceException(
                $"drive '{DriveId}': the new file is {(next.IsReadOnly ? "read-only" : "writable")} but the drive was {(_disk.IsReadOnly ? "read-only" : "writable")}; is_read_only cannot change after boot");
        }

        DiskBackend old = _disk;
        _disk = next;
        ulong capacity = BinaryPrimitives.ReadUInt64LittleEndian(_config.AsSpan(ConfigCapacity));
        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(ConfigCapacity), next.CapacitySectors);
        old.Dispose();
        if (capacity != next.CapacitySectors)
        {
            Active?.Interrupt.SignalConfigChange();
        }
    }
}
