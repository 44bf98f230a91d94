using Kindling.Vmm.Config;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Block;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Devices.Virtio.Rng;
using Kindling.Vmm.Devices.Virtio.Vsock;
using Kindling.Vmm.RateLimiting;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Builds virtio devices from the Firecracker-format config sections (<c>drives</c>, <c>network-interfaces</c>,
/// <c>vsock</c>, <c>entropy</c>). A missing disk file or TAP fails with a <see cref="VirtioDeviceException"/>
/// naming it, before the VM starts.
/// </summary>
public sealed class VirtioDeviceFactory(IEventLoop loop, TimeProvider time, ILoggerFactory? loggers = null)
{
    private ILogger Log(string name) => loggers?.CreateLogger(name) ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    public VirtioBlock CreateBlock(DriveConfig drive)
    {
        if (string.IsNullOrEmpty(drive.PathOnHost))
        {
            throw new VirtioDeviceException($"drive '{drive.DriveId}': path_on_host is required (vhost-user drives are not supported)");
        }

        DiskBackend disk = DiskBackend.Open(drive.DriveId, drive.PathOnHost, drive.IsReadOnly);
        return new VirtioBlock(drive.DriveId, disk, Limiter(drive.RateLimiter), loop, Log("virtio-blk"));
    }

    public VirtioNet CreateNet(NetworkInterfaceConfig iface, IFrameInterceptor? interceptor = null)
    {
        byte[]? mac = iface.GuestMac is null ? null : VirtioNet.ParseMac(iface.IfaceId, iface.GuestMac);
        Tap tap = Tap.Open(iface.HostDevName);
        return new VirtioNet(iface.IfaceId, tap, mac, Limiter(iface.RxRateLimiter), Limiter(iface.TxRateLimiter), interceptor, loop, Log("virtio-net"));
    }

    public VirtioVsock CreateVsock(VsockConfig vsock) =>
        new((ulong)vsock.GuestCid, vsock.UdsPath, loop, Log("virtio-vsock"));

    public VirtioRng CreateRng(EntropyConfig entropy) =>
        new(Limiter(entropy.RateLimiter), loop, Log("virtio-rng"));

    private RateLimiter? Limiter(RateLimiterConfig? config) => config is null ? null : RateLimiter.FromConfig(config, time);
}
