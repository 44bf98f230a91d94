using Kindling.Vmm.Devices.Virtio.Block;

namespace Kindling.Vmm.Machine;

public sealed partial class MicroVm
{
    /// <summary>
    /// Points drive <paramref name="driveId"/> at <paramref name="pathOnHost"/> (PATCH /drives after boot or after a
    /// snapshot load, before resume: a clone's own overlay). Runs on the device loop, under the drive's transport
    /// lock, so no request is half served from the old file. Throws <see cref="Devices.Virtio.VirtioDeviceException"/>.
    /// </summary>
    public void ReplaceDrive(string driveId, string pathOnHost)
    {
        AttachedDevice device = _virtio.FirstOrDefault(d => d.Kind == "block" && d.Id == driveId)
            ?? throw new Devices.Virtio.VirtioDeviceException($"drive '{driveId}' is not attached to this microVM");
        var block = (VirtioBlock)device.Device;
        DeviceLoop.Invoke(() =>
        {
            DiskBackend next = DiskBackend.Open(driveId, pathOnHost, block.Disk.IsReadOnly);
            lock (device.Transport.Gate)
            {
                block.SwapDisk(next);
            }
        });
    }
}
