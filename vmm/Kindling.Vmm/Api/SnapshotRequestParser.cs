using Kindling.Vmm.Config;

namespace Kindling.Vmm.Api;

/// <summary>
/// Parses and validates the bodies of PUT /snapshot/create and PUT /snapshot/load as Firecracker does (same field
/// names, the same two messages about mem_backend/mem_file_path), refusing what Kindling does not implement
/// (diff snapshots, the Uffd backend) with a message that says what to send instead.
/// </summary>
internal static class SnapshotRequestParser
{
    /// <summary>Firecracker's message when neither memory field is given.</summary>
    public const string MissingField = "missing field: either `mem_backend` or `mem_file_path` is required";

    /// <summary>Firecracker's message when both memory fields are given.</summary>
    public const string TooManyFields = "too many fields: either `mem_backend` or `mem_file_path` exclusively is required";

    public static CreateSnapshot ParseCreate(SnapshotCreateParams p)
    {
        string type = p.SnapshotType ?? SnapshotCreateParams.Full;
        if (type == SnapshotCreateParams.Diff)
        {
            throw new VmConfigException("snapshot_type \"Diff\" is not supported: Kindling does not track dirty pages; use \"Full\"");
        }

        if (type != SnapshotCreateParams.Full)
        {
            throw new VmConfigException($"snapshot_type \"{type}\" is unknown; use \"Full\"");
        }

        RequireNonEmptyPath(p.SnapshotPath, "snapshot_path");
        RequireNonEmptyPath(p.MemFilePath, "mem_file_path");
        if (string.Equals(Path.GetFullPath(p.SnapshotPath), Path.GetFullPath(p.MemFilePath), StringComparison.Ordinal))
        {
            throw new VmConfigException("snapshot_path and mem_file_path name the same file; give the state and the memory two files");
        }

        return new CreateSnapshot(new SnapshotCreateRequest(p.SnapshotPath, p.MemFilePath));
    }

    public static LoadSnapshot ParseLoad(SnapshotLoadParams p)
    {
        string memory = (p.MemBackend, p.MemFilePath) switch
        {
            (not null, not null) => throw new VmConfigException(TooManyFields),
            (null, null) => throw new VmConfigException(MissingField),
            (null, string legacy) => legacy,
            ({ } backend, null) => BackendPath(backend),
        };

        RequireNonEmptyPath(p.SnapshotPath, "snapshot_path");
        RequireNonEmptyPath(memory, p.MemBackend is null ? "mem_file_path" : "mem_backend.backend_path");
        if (p.EnableDiffSnapshots == true || p.TrackDirtyPages == true)
        {
            string field = p.EnableDiffSnapshots == true ? "enable_diff_snapshots" : "track_dirty_pages";
            throw new VmConfigException($"{field}: dirty page tracking is not supported by Kindling; leave it out or set it to false");
        }

        var overrides = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < (p.NetworkOverrides?.Count ?? 0); i++)
        {
            NetworkOverride o = p.NetworkOverrides![i];
            VmConfigValidator.ValidateId(o.IfaceId, $"network_overrides[{i}].iface_id");
            if (string.IsNullOrWhiteSpace(o.HostDevName))
            {
                throw new VmConfigException($"network_overrides[{i}].host_dev_name is empty; name the TAP device the restored interface uses");
            }

            if (!overrides.TryAdd(o.IfaceId, o.HostDevName))
            {
                throw new VmConfigException($"network_overrides[{i}].iface_id \"{o.IfaceId}\" is overridden twice; give each interface once");
            }
        }

        return new LoadSnapshot(new SnapshotLoadRequest(p.SnapshotPath, memory, p.ResumeVm ?? false, overrides));
    }

    private static string BackendPath(MemoryBackend backend) => backend.BackendType switch
    {
        MemoryBackend.File => backend.BackendPath,
        MemoryBackend.Uffd => throw new VmConfigException("mem_backend.backend_type \"Uffd\" is not supported by Kindling; use \"File\" (the memory file is mapped copy-on-write)"),
        _ => throw new VmConfigException($"mem_backend.backend_type \"{backend.BackendType}\" is unknown; use \"File\""),
    };

    private static void RequireNonEmptyPath(string path, string field)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new VmConfigException($"{field} is empty; give a file path");
        }

        VmConfigValidator.RequirePath(path, field);
    }
}
