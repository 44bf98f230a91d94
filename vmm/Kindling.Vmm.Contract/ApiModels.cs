using System.Text.Json.Serialization;

namespace Kindling.Vmm.Contract;

// Request and response bodies that exist only on the REST API (the config-file sections live in VmConfig.cs).
// Field names are Firecracker's (firecracker.yaml definitions of the same name).

/// <summary>PATCH /machine-config: every field optional; absent fields keep their value.</summary>
public sealed record MachineConfigUpdate
{
    [JsonPropertyName("vcpu_count")] public int? VcpuCount { get; init; }
    [JsonPropertyName("mem_size_mib")] public int? MemSizeMib { get; init; }
    [JsonPropertyName("smt")] public bool? Smt { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool? TrackDirtyPages { get; init; }
    [JsonPropertyName("huge_pages")] public string? HugePages { get; init; }
    [JsonPropertyName("cpu_template")] public string? CpuTemplate { get; init; }
}

/// <summary>PartialDrive: PATCH /drives/{id} after start (new backing file and/or rate limiter).</summary>
public sealed record PartialDrive
{
    [JsonPropertyName("drive_id")] public required string DriveId { get; init; }
    [JsonPropertyName("path_on_host")] public string? PathOnHost { get; init; }
    [JsonPropertyName("rate_limiter")] public RateLimiterConfig? RateLimiter { get; init; }
}

/// <summary>PartialNetworkInterface: PATCH /network-interfaces/{id} after start (rate limiters).</summary>
public sealed record PartialNetworkInterface
{
    [JsonPropertyName("iface_id")] public required string IfaceId { get; init; }
    [JsonPropertyName("rx_rate_limiter")] public RateLimiterConfig? RxRateLimiter { get; init; }
    [JsonPropertyName("tx_rate_limiter")] public RateLimiterConfig? TxRateLimiter { get; init; }
}

/// <summary>InstanceActionInfo: PUT /actions.</summary>
public sealed record InstanceActionInfo
{
    public const string InstanceStart = "InstanceStart";
    public const string SendCtrlAltDel = "SendCtrlAltDel";
    public const string FlushMetrics = "FlushMetrics";

    [JsonPropertyName("action_type")] public required string ActionType { get; init; }
}

/// <summary>Vm: PATCH /vm.</summary>
public sealed record VmStateUpdate
{
    public const string Paused = "Paused";
    public const string Resumed = "Resumed";

    [JsonPropertyName("state")] public required string State { get; init; }
}

/// <summary>InstanceInfo: GET /.</summary>
public sealed record InstanceInfo
{
    [JsonPropertyName("id")] public required string Id { get; init; }
    [JsonPropertyName("state")] public required string State { get; init; }
    [JsonPropertyName("vmm_version")] public required string VmmVersion { get; init; }
    [JsonPropertyName("app_name")] public required string AppName { get; init; }
}

/// <summary>FirecrackerVersion: GET /version (the field name is Firecracker's, so its clients parse it).</summary>
public sealed record VersionInfo
{
    [JsonPropertyName("firecracker_version")] public required string FirecrackerVersion { get; init; }
}

/// <summary>Error: every 4xx/5xx body.</summary>
public sealed record ApiFault
{
    [JsonPropertyName("fault_message")] public required string FaultMessage { get; init; }
}
