using System.Text.Json.Serialization;

namespace Kindling.Vmm.Contract;

// Request bodies of PUT /snapshot/create and PUT /snapshot/load, with Firecracker's field names (firecracker.yaml
// SnapshotCreateParams, SnapshotLoadParams, MemoryBackend, NetworkOverride).

/// <summary>SnapshotCreateParams: PUT /snapshot/create.</summary>
public sealed record SnapshotCreateParams
{
    public const string Full = "Full";
    public const string Diff = "Diff";

    /// <summary>"Full" (the default) or "Diff"; Kindling writes full snapshots only.</summary>
    [JsonPropertyName("snapshot_type")] public string? SnapshotType { get; init; }
    [JsonPropertyName("snapshot_path")] public required string SnapshotPath { get; init; }
    [JsonPropertyName("mem_file_path")] public required string MemFilePath { get; init; }
}

/// <summary>MemoryBackend: where a snapshot's guest RAM comes from.</summary>
public sealed record MemoryBackend
{
    public const string File = "File";
    public const string Uffd = "Uffd";

    [JsonPropertyName("backend_type")] public required string BackendType { get; init; }
    [JsonPropertyName("backend_path")] public required string BackendPath { get; init; }
}

/// <summary>NetworkOverride: the TAP a restored interface uses instead of the one in the snapshot.</summary>
public sealed record NetworkOverride
{
    [JsonPropertyName("iface_id")] public required string IfaceId { get; init; }
    [JsonPropertyName("host_dev_name")] public required string HostDevName { get; init; }
}

/// <summary>SnapshotLoadParams: PUT /snapshot/load (exactly one of mem_backend and the deprecated mem_file_path).</summary>
public sealed record SnapshotLoadParams
{
    [JsonPropertyName("snapshot_path")] public required string SnapshotPath { get; init; }
    [JsonPropertyName("mem_file_path")] public string? MemFilePath { get; init; }
    [JsonPropertyName("mem_backend")] public MemoryBackend? MemBackend { get; init; }
    [JsonPropertyName("enable_diff_snapshots")] public bool? EnableDiffSnapshots { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool? TrackDirtyPages { get; init; }
    [JsonPropertyName("resume_vm")] public bool? ResumeVm { get; init; }
    [JsonPropertyName("network_overrides")] public IReadOnlyList<NetworkOverride>? NetworkOverrides { get; init; }
}
