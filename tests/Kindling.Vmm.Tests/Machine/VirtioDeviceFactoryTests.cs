using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.EventLoop;
using Kindling.Vmm.Machine;

namespace Kindling.Vmm.Tests.Machine;

public sealed class VirtioDeviceFactoryTests
{
    [Fact]
    public void CreateBlock_MissingFile_NamesDriveAndPath()
    {
        using var loop = new EpollLoop();
        var factory = new VirtioDeviceFactory(loop, TimeProvider.System);
        var e = Assert.Throws<VirtioDeviceException>(() => factory.CreateBlock(new DriveConfig { DriveId = "overlay", PathOnHost = "/nope/overlay.ext4" }));
        Assert.Contains("overlay", e.Message, StringComparison.Ordinal);
        Assert.Contains("/nope/overlay.ext4", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateNet_MissingTap_NamesHostDevName()
    {
        using var loop = new EpollLoop();
        var factory = new VirtioDeviceFactory(loop, TimeProvider.System);
        var e = Assert.Throws<VirtioDeviceException>(() => factory.CreateNet(new NetworkInterfaceConfig { IfaceId = "eth0", HostDevName = "kdmissing9" }));
        Assert.Contains("kdmissing9", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateBlock_ReadOnlyWithLimiter_Works()
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, new byte[4096]);
            using var loop = new EpollLoop();
            var factory = new VirtioDeviceFactory(loop, TimeProvider.System);
            using var blk = factory.CreateBlock(new DriveConfig
            {
                DriveId = "rootfs", PathOnHost = path, IsReadOnly = true,
                RateLimiter = new RateLimiterConfig { Ops = new TokenBucketConfig { Size = 100, RefillTime = 1000 } },
            });
            Assert.Equal(8UL, blk.Disk.CapacitySectors);
            Assert.NotEqual(0UL, blk.AvailableFeatures & VirtioSpec.Bit(Kindling.Vmm.Devices.Virtio.Block.VirtioBlock.VIRTIO_BLK_F_RO));
        }
        finally
        {
            File.Delete(path);
        }
    }
}
