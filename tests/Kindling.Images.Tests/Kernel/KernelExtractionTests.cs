using Kindling.Images.Kernel;

namespace Kindling.Images.Tests.Kernel;

public sealed class KernelExtractionTests(ImageStoreFixture fixture)
{
    [Fact]
    public async Task EnsureKernel_DebianCloudKernel_VmlinuxIsX86ElfMatchingTheBzImageHeader()
    {
        KernelArtifacts k = await fixture.KernelAsync();
        byte[] bz = await File.ReadAllBytesAsync(k.BzImagePath, TestContext.Current.CancellationToken);
        byte[] vmlinux = await File.ReadAllBytesAsync(k.VmlinuxPath, TestContext.Current.CancellationToken);
        BzImageHeader h = BzImageHeader.Parse(bz);
        ElfImage elf = ElfImage.Parse(vmlinux);

        Assert.Equal(ElfImage.EmX86_64, elf.Machine);
        Assert.Equal(h.PrefAddress, elf.Entry); // startup_64's physical address is where the bzImage wants the kernel.
        Assert.NotEmpty(elf.Loads);
        Assert.All(elf.Loads, l =>
        {
            Assert.InRange(l.PhysicalAddress, h.PrefAddress, h.PrefAddress + h.InitSize - 1);
            Assert.True(l.PhysicalAddress + l.MemorySize <= h.PrefAddress + h.InitSize);
        });
        Assert.Equal(elf.Entry, elf.Loads.Min(l => l.PhysicalAddress));
        elf.ValidateAgainst(h);
    }

    [Fact]
    public async Task ExtractVmlinux_DebianBzImage_EqualsLz4CommandLineOutput()
    {
        KernelArtifacts k = await fixture.KernelAsync();
        byte[] bz = await File.ReadAllBytesAsync(k.BzImagePath, TestContext.Current.CancellationToken);
        BzImageHeader h = BzImageHeader.Parse(bz);
        string payload = Path.Combine(Path.GetTempPath(), $"payload-{Guid.NewGuid():N}.lz4");
        // The last 4 bytes are the kernel build's size_append trailer, which lz4(1) does not understand.
        await File.WriteAllBytesAsync(payload, h.Payload(bz)[..^4].ToArray(), TestContext.Current.CancellationToken);
        try
        {
            string outFile = payload + ".out";
            var r = await Tools.RunAsync("sh", "-c", $"lz4 -dc '{payload}' > '{outFile}'");
            Assert.Equal(0, r.Exit);
            byte[] expected = await File.ReadAllBytesAsync(outFile, TestContext.Current.CancellationToken);
            File.Delete(outFile);
            Assert.Equal(expected, KernelExtractor.ExtractVmlinux(bz).Vmlinux);
        }
        finally
        {
            File.Delete(payload);
        }
    }

    [Fact]
    public async Task EnsureKernel_ModuleList_ModulesPresentWithDependenciesFirst()
    {
        KernelArtifacts k = await fixture.KernelAsync();
        string[] names = k.Modules.Select(m => Path.GetFileNameWithoutExtension(m)).ToArray();
        Assert.All(k.Modules, m => Assert.True(new FileInfo(m).Length > 0, m));
        foreach (string wanted in new[] { "virtio_mmio", "virtio_blk", "virtio_net", "vmw_vsock_virtio_transport", "overlay" })
        {
            Assert.Contains(wanted, names);
        }

        // Dependencies resolved from modules.dep, loaded first.
        Assert.True(Array.IndexOf(names, "virtio_ring") < Array.IndexOf(names, "virtio"));
        Assert.True(Array.IndexOf(names, "virtio") < Array.IndexOf(names, "virtio_mmio"));
        Assert.True(Array.IndexOf(names, "failover") < Array.IndexOf(names, "net_failover"));
        Assert.True(Array.IndexOf(names, "net_failover") < Array.IndexOf(names, "virtio_net"));
        Assert.True(Array.IndexOf(names, "vsock") < Array.IndexOf(names, "vmw_vsock_virtio_transport_common"));
        Assert.DoesNotContain("ext4", names); // built in (=y) in Debian's cloud config
        foreach (string m in k.Modules)
        {
            byte[] head = new byte[4];
            await using FileStream f = File.OpenRead(m);
            await f.ReadExactlyAsync(head, TestContext.Current.CancellationToken);
            Assert.Equal(new byte[] { 0x7f, (byte)'E', (byte)'L', (byte)'F' }, head); // decompressed .ko
        }
    }
}
