namespace Kindling.Vmm.Api;

/// <summary>A validated snapshot/create request, as the backend receives it.</summary>
public sealed record SnapshotCreateRequest(string SnapshotPath, string MemFilePath);

/// <summary>A validated snapshot/load request: the memory file (from mem_backend or mem_file_path) and the TAP overrides by iface_id.</summary>
public sealed record SnapshotLoadRequest(string SnapshotPath, string MemFilePath, bool ResumeVm, IReadOnlyDictionary<string, string> NetworkOverrides);
