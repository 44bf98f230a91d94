using System.Text.Json.Serialization;

namespace Kindling.Vmm.Contract;

// The VM configuration in Firecracker's config-file format (`--config-file`): the same section names and field
// names, so a config written for Firecracker loads unchanged. The REST API (PUT /boot-source, /drives/{id}, ...)
// and the config file share these records; GET /vm/config returns them.

/// <summary>The whole config file.</summary>
public sealed record VmConfig
{
    [JsonPropertyName("boot-source")] public BootSourceConfig? BootSource { get; init; }
    [JsonPropertyName("machine-config")] public MachineConfig? MachineConfig { get; init; }
    // Defaults of init-only members live in the getters: the source-generated reader (VmmContractJsonContext) passes
    // absent members as null instead of leaving the initializer's value.
    [JsonPropertyName("drives")] public IReadOnlyList<DriveConfig> Drives { get => field ?? []; init => field = value; }
    [JsonPropertyName("network-interfaces")] public IReadOnlyList<NetworkInterfaceConfig> NetworkInterfaces { get => field ?? []; init => field = value; }
    [JsonPropertyName("vsock")] public VsockConfig? Vsock { get; init; }
    [JsonPropertyName("entropy")] public EntropyConfig? Entropy { get; init; }
    [JsonPropertyName("mmds-config")] public MmdsConfig? MmdsConfig { get; init; }
    [JsonPropertyName("logger")] public LoggerConfig? Logger { get; init; }
    [JsonPropertyName("metrics")] public MetricsConfig? Metrics { get; init; }
    [JsonPropertyName("serial")] public SerialConfig? Serial { get; init; }

    // Firecracker sections Kindling does not implement: accepted by the parser so that the validator can name them.
    [JsonPropertyName("balloon")] public System.Text.Json.JsonElement? Balloon { get; init; }
    [JsonPropertyName("cpu-config")] public System.Text.Json.JsonElement? CpuConfig { get; init; }
    [JsonPropertyName("memory-hotplug")] public System.Text.Json.JsonElement? MemoryHotplug { get; init; }
    [JsonPropertyName("pmem")] public System.Text.Json.JsonElement? Pmem { get; init; }
}

/// <summary><c>boot-source</c>: the guest kernel, optional initrd and kernel command line.</summary>
public sealed record BootSourceConfig
{
    [JsonPropertyName("kernel_image_path")] public required string KernelImagePath { get; init; }
    [JsonPropertyName("initrd_path")] public string? InitrdPath { get; init; }
    [JsonPropertyName("boot_args")] public string? BootArgs { get; init; }
}

/// <summary><c>machine-config</c>.</summary>
public sealed record MachineConfig
{
    [JsonPropertyName("vcpu_count")] public required int VcpuCount { get; init; }
    [JsonPropertyName("mem_size_mib")] public required int MemSizeMib { get; init; }
    [JsonPropertyName("smt")] public bool Smt { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool TrackDirtyPages { get; init; }
    [JsonPropertyName("huge_pages")] public string? HugePages { get; init; }

    /// <summary>Kindling's templates: <c>None</c>, <c>Minimal</c>, <c>Emulated</c> (case-insensitive).</summary>
    [JsonPropertyName("cpu_template")] public string? CpuTemplate { get; init; }
}

/// <summary>A token bucket as in Firecracker: <c>size</c> tokens, refilled fully every <c>refill_time</c> ms.</summary>
public sealed record TokenBucketConfig
{
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("one_time_burst")] public long? OneTimeBurst { get; init; }
    [JsonPropertyName("refill_time")] public required long RefillTime { get; init; }
}

/// <summary>A rate limiter: a bandwidth bucket (bytes) and an ops bucket (requests); either may be absent.</summary>
public sealed record RateLimiterConfig
{
    [JsonPropertyName("bandwidth")] public TokenBucketConfig? Bandwidth { get; init; }
    [JsonPropertyName("ops")] public TokenBucketConfig? Ops { get; init; }
}

/// <summary>One entry of <c>drives</c>: a virtio-blk device backed by a host file.</summary>
public sealed record DriveConfig
{
    [JsonPropertyName("drive_id")] public required string DriveId { get; init; }
    [JsonPropertyName("path_on_host")] public string? PathOnHost { get; init; }
    [JsonPropertyName("is_root_device")] public bool IsRootDevice { get; init; }
    [JsonPropertyName("is_read_only")] public bool IsReadOnly { get; init; }
    [JsonPropertyName("partuuid")] public string? PartUuid { get; init; }
    [JsonPropertyName("cache_type")] public string? CacheType { get; init; }
    [JsonPropertyName("io_engine")] public string? IoEngine { get; init; }
    [JsonPropertyName("rate_limiter")] public RateLimiterConfig? RateLimiter { get; init; }
    [JsonPropertyName("socket")] public string? Socket { get; init; }
}

/// <summary>One entry of <c>network-interfaces</c>: a virtio-net device over a host TAP.</summary>
public sealed record NetworkInterfaceConfig
{
    [JsonPropertyName("iface_id")] public required string IfaceId { get; init; }
    [JsonPropertyName("host_dev_name")] public required string HostDevName { get; init; }
    [JsonPropertyName("guest_mac")] public string? GuestMac { get; init; }

    /// <summary>MTU advertised through VIRTIO_NET_F_MTU (68..65535); absent: not advertised.</summary>
    [JsonPropertyName("mtu")] public int? Mtu { get; init; }
    [JsonPropertyName("rx_rate_limiter")] public RateLimiterConfig? RxRateLimiter { get; init; }
    [JsonPropertyName("tx_rate_limiter")] public RateLimiterConfig? TxRateLimiter { get; init; }
}

/// <summary><c>vsock</c>: hybrid vsock over a host Unix socket.</summary>
public sealed record VsockConfig
{
    [JsonPropertyName("vsock_id")] public string? VsockId { get; init; }
    [JsonPropertyName("guest_cid")] public required long GuestCid { get; init; }
    [JsonPropertyName("uds_path")] public required string UdsPath { get; init; }
}

/// <summary><c>entropy</c>: virtio-rng.</summary>
public sealed record EntropyConfig
{
    [JsonPropertyName("rate_limiter")] public RateLimiterConfig? RateLimiter { get; init; }
}

/// <summary><c>mmds-config</c>. Kindling defaults to V2 (tokens required).</summary>
public sealed record MmdsConfig
{
    /// <summary>MMDS version 1: plain GETs, no session token.</summary>
    public const string V1 = "V1";

    /// <summary>MMDS version 2: a PUT /latest/api/token session token on every request (Kindling's default).</summary>
    public const string V2 = "V2";

    /// <summary>V2 when absent (a getter default, as <see cref="VmConfig.Drives"/>).</summary>
    [JsonPropertyName("version")] public string Version { get => field ?? V2; init => field = value; }
    [JsonPropertyName("network_interfaces")] public required IReadOnlyList<string> NetworkInterfaces { get; init; }
    [JsonPropertyName("ipv4_address")] public string? Ipv4Address { get; init; }
    [JsonPropertyName("imds_compat")] public bool ImdsCompat { get; init; }
}

/// <summary><c>logger</c>: the VMM's own log, to a file or FIFO.</summary>
public sealed record LoggerConfig
{
    [JsonPropertyName("log_path")] public string? LogPath { get; init; }
    [JsonPropertyName("level")] public string? Level { get; init; }
    [JsonPropertyName("show_level")] public bool ShowLevel { get; init; }
    [JsonPropertyName("show_log_origin")] public bool ShowLogOrigin { get; init; }
    [JsonPropertyName("module")] public string? Module { get; init; }
}

/// <summary><c>metrics</c>: JSON lines to a file or FIFO.</summary>
public sealed record MetricsConfig
{
    [JsonPropertyName("metrics_path")] public required string MetricsPath { get; init; }
}

/// <summary><c>serial</c>: where guest serial output goes (stdout when absent).</summary>
public sealed record SerialConfig
{
    [JsonPropertyName("serial_out_path")] public string? SerialOutPath { get; init; }

    /// <summary>Firecracker drops serial bytes over this bucket; Kindling never drops guest output, so it is refused.</summary>
    [JsonPropertyName("rate_limiter")] public TokenBucketConfig? RateLimiter { get; init; }
}
