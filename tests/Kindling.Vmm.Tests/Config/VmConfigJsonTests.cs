using Kindling.Vmm.Config;

namespace Kindling.Vmm.Tests.Config;

public sealed class VmConfigJsonTests
{
    private const string FirecrackerExample = """
        {
          "boot-source": { "kernel_image_path": "vmlinux.bin", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off", "initrd_path": null },
          "drives": [ { "drive_id": "rootfs", "path_on_host": "bionic.rootfs.ext4", "is_root_device": true, "partuuid": null,
                        "is_read_only": false, "cache_type": "Unsafe", "io_engine": "Sync", "rate_limiter": null } ],
          "machine-config": { "vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false },
          "network-interfaces": [ { "iface_id": "eth0", "guest_mac": "AA:FC:00:00:00:01", "host_dev_name": "tap0" } ],
          "vsock": { "guest_cid": 3, "uds_path": "./v.sock" },
          "mmds-config": { "version": "V2", "network_interfaces": ["eth0"] }
        }
        """;

    [Fact]
    public void Parse_FirecrackerExample_ReadsEverySection()
    {
        VmConfig config = VmConfigJson.Parse<VmConfig>(FirecrackerExample, "test");
        VmConfigValidator.Validate(config);

        Assert.Equal("vmlinux.bin", config.BootSource!.KernelImagePath);
        Assert.Equal(2, config.MachineConfig!.VcpuCount);
        Assert.Equal(1024, config.MachineConfig.MemSizeMib);
        Assert.Equal("rootfs", Assert.Single(config.Drives).DriveId);
        Assert.Equal("tap0", Assert.Single(config.NetworkInterfaces).HostDevName);
        Assert.Equal(3, config.Vsock!.GuestCid);
        Assert.Equal("V2", config.MmdsConfig!.Version);
    }

    [Fact]
    public void Parse_UnknownField_NamesIt()
    {
        var e = Assert.Throws<VmConfigException>(() =>
            VmConfigJson.Parse<MachineConfig>("""{ "vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2 }""", "machine-config"));
        Assert.Contains("vcpus", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_WrongType_NamesThePath()
    {
        var e = Assert.Throws<VmConfigException>(() =>
            VmConfigJson.Parse<MachineConfig>("""{ "vcpu_count": "two", "mem_size_mib": 128 }""", "machine-config"));
        Assert.Contains("vcpu_count", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, 128, "vcpu_count")]
    [InlineData(33, 128, "vcpu_count")]
    [InlineData(1, 0, "mem_size_mib")]
    public void Validate_OutOfRangeMachineConfig_NamesTheField(int vcpus, int mib, string field)
    {
        var e = Assert.Throws<VmConfigException>(() =>
            VmConfigValidator.Validate(new MachineConfig { VcpuCount = vcpus, MemSizeMib = mib }));
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_MmdsOnUnknownInterface_IsRefused()
    {
        var config = new VmConfig
        {
            BootSource = new BootSourceConfig { KernelImagePath = "k" },
            MmdsConfig = new MmdsConfig { NetworkInterfaces = ["eth9"] },
        };
        var e = Assert.Throws<VmConfigException>(() => VmConfigValidator.Validate(config));
        Assert.Contains("eth9", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Balloon_SaysUnsupported()
    {
        VmConfig config = VmConfigJson.Parse<VmConfig>(
            """{ "boot-source": { "kernel_image_path": "k" }, "balloon": { "amount_mib": 1 } }""", "test");
        var e = Assert.Throws<VmConfigException>(() => VmConfigValidator.Validate(config));
        Assert.Contains("not support", e.Message, StringComparison.Ordinal);
    }
}
