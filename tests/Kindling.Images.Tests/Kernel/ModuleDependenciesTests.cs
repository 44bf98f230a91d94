using Kindling.Images.Kernel;

namespace Kindling.Images.Tests.Kernel;

public sealed class ModuleDependenciesTests
{
    private const string Dep = """
        kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/virtio/virtio_ring.ko:
        kernel/drivers/virtio/virtio_mmio.ko.xz: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
        kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
        kernel/net/core/failover.ko:
        kernel/fs/overlayfs/overlay.ko:
        """;

    private static readonly ModuleDependencies Deps = ModuleDependencies.Parse(Dep, "kernel/fs/ext4/ext4.ko\nkernel/fs/jbd2/jbd2.ko\n");

    [Fact]
    public void LoadOrder_Modules_DependenciesComeFirstEachOnce()
    {
        string[] order = Deps.LoadOrder(["virtio_mmio", "virtio-net", "overlay"]).Select(m => m.Name).ToArray();

        Assert.Equal(["virtio_ring", "virtio", "virtio_mmio", "failover", "net_failover", "virtio_net", "overlay"], order);
    }

    [Fact]
    public void LoadOrder_BuiltinModule_LeftOut()
    {
        Assert.Empty(Deps.LoadOrder(["ext4"]));
        Assert.True(Deps.IsBuiltin("ext4"));
    }

    [Fact]
    public void LoadOrder_UnknownModule_ClearError()
    {
        ImageBuildException e = Assert.Throws<ImageBuildException>(() => Deps.LoadOrder(["virtio_blk"]));
        Assert.Contains("virtio_blk", e.Message);
        Assert.Contains("modules.list", e.Message);
    }

    [Fact]
    public void NameOf_CompressedModulePath_StripsSuffixAndDashes()
    {
        Assert.Equal("virtio_mmio", ModuleDependencies.NameOf("kernel/drivers/virtio/virtio_mmio.ko.xz"));
        Assert.Equal("virtio_rng", ModuleDependencies.NameOf("kernel/drivers/char/hw_random/virtio-rng.ko"));
    }
}
