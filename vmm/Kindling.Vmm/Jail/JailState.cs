using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Vmm.Jail;

/// <summary>
/// What teardown and the reaper need to know about a jail, kept in <c>jail.json</c> next to (outside) its root:
/// the jail's top process (to tell a live jail from a leftover), its cgroup folders and its TAP.
/// </summary>
public sealed record JailState
{
    public required string Id { get; init; }

    /// <summary>The jail's top process (the unshare parent of the namespace's init); 0 before it is started.</summary>
    public int OwnerPid { get; init; }

    /// <summary>The owner's start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it.</summary>
    public long OwnerStartTicks { get; init; }

    public string? TapName { get; init; }

    public IReadOnlyList<string> CgroupDirectories { get; init; } = [];

    public string CgroupRoot { get; init; } = "/sys/fs/cgroup";

    /// <summary>Reads the state file; null when it is missing or unreadable (a jail cut off while being built).</summary>
    public static JailState? TryRead(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), JailStateJson.Default.JailState);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Writes the state file atomically (temporary file renamed into place).</summary>
    public void Write(string path)
    {
        string temporary = path + ".tmp";
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, JailStateJson.Default.JailState));
        File.Move(temporary, path, overwrite: true);
    }
}

[JsonSerializable(typeof(JailState))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class JailStateJson : JsonSerializerContext;
