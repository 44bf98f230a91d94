using System.Runtime.InteropServices;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>
/// A host TAP interface opened through /dev/net/tun with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR and a 12-byte
/// virtio-net header (TUNSETVNETHDRSZ), non-blocking. The interface must exist (the runner creates it).
/// </summary>
public sealed class Tap : ITapDevice
{
    private const string SysClassNet = "/sys/class/net";

    private readonly FileDescriptor _fd;

    private Tap(FileDescriptor fd, string name)
    {
        _fd = fd;
        Name = name;
    }

    public string Name { get; }

    public SafeHandle Handle => _fd;

    /// <summary>Opens TAP <paramref name="hostDevName"/>; fails naming it when it is missing or cannot be opened.</summary>
    public static Tap Open(string hostDevName)
    {
        if (string.IsNullOrEmpty(hostDevName) || hostDevName.Length > 15 || hostDevName.Contains('/', StringComparison.Ordinal))
        {
            throw new VirtioDeviceException($"host_dev_name '{hostDevName}' is not a valid interface name (1-15 characters, no '/')");
        }

        // A friendlier message than TUNSETIFF's errno where sysfs is visible. A jailed VMM has no /sys: there it
        // relies on TUNSETIFF alone, which (without CAP_NET_ADMIN) cannot create a missing interface either.
        if (Directory.Exists(SysClassNet) && !Directory.Exists(Path.Combine(SysClassNet, hostDevName)))
        {
            throw new VirtioDeviceException($"host_dev_name '{hostDevName}': no such TAP interface on the host; create it first (ip tuntap add {hostDevName} mode tap)");
        }

        try
        {
            FileDescriptor fd = LibcTun.OpenTap(hostDevName);
            try
            {
                LibcTun.TapSetVnetHdrSize(fd, VirtioNetHeader.Size);
            }
            catch
            {
                fd.Dispose();
                throw;
            }

            return new Tap(fd, hostDevName);
        }
        catch (SyscallException e)
        {
            throw new VirtioDeviceException($"host_dev_name '{hostDevName}': cannot open the TAP: {e.Message} (is it a TAP, owned by this user, not busy?)", e);
        }
    }

    public int Read(Span<byte> frame) => FdIo.Read(_fd, frame);

    public bool Write(ReadOnlySpan<byte> frame) => FdIo.Write(_fd, frame) >= 0;

    public void SetOffload(uint tunFlags) => LibcTun.TapSetOffload(_fd, tunFlags);

    public void Dispose() => _fd.Dispose();
}
