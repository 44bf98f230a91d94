namespace Kindling.Vmm.Tests.Api;

/// <summary>Request bodies shaped like the examples and definitions of Firecracker's firecracker.yaml and getting-started guide.</summary>
internal static class FirecrackerExamples
{
    public const string BootSource = """
        { "kernel_image_path": "./vmlinux-5.10", "boot_args": "console=ttyS0 reboot=k panic=1 pci=off", "initrd_path": "./initrd.img" }
        """;

    public const string MachineConfig = """
        { "vcpu_count": 2, "mem_size_mib": 1024, "smt": false, "track_dirty_pages": false, "huge_pages": "None", "cpu_template": "None" }
        """;

    public const string RootDrive = """
        {
          "drive_id": "rootfs", "path_on_host": "./ubuntu-22.04.ext4", "is_root_device": true, "is_read_only": false,
          "partuuid": "0eaa91a0-01", "cache_type": "Unsafe", "io_engine": "Sync",
          "rate_limiter": { "bandwidth": { "size": 104857600, "one_time_burst": 10485760, "refill_time": 1000 },
                            "ops": { "size": 1000, "refill_time": 1000 } }
        }
        """;

    public const string NetworkInterface = """
        {
          "iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0", "mtu": 1500,
          "rx_rate_limiter": { "bandwidth": { "size": 1048576, "refill_time": 100 } },
          "tx_rate_limiter": { "ops": { "size": 100, "one_time_burst": 10, "refill_time": 100 } }
        }
        """;

    public const string Vsock = """{ "vsock_id": "vsock0", "guest_cid": 3, "uds_path": "./v.sock" }""";

    public const string Entropy = """{ "rate_limiter": { "bandwidth": { "size": 1000, "one_time_burst": 0, "refill_time": 100 } } }""";

    public const string Logger = """{ "log_path": "./firecracker.log", "level": "Info", "show_level": true, "show_log_origin": true, "module": "api_server::request" }""";

    public const string Metrics = """{ "metrics_path": "./metrics.fifo" }""";

    public const string Serial = """{ "serial_out_path": "./serial.out" }""";

    public const string MmdsConfig = """{ "version": "V2", "network_interfaces": ["eth0"], "ipv4_address": "169.254.170.2", "imds_compat": false }""";

    public const string MmdsData = """{ "latest": { "meta-data": { "ami-id": "ami-87654321", "reservation-id": "r-79054aef" } } }""";
}
