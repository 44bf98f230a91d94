using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>The files of one golden snapshot: the VMM's state file, the guest memory file and the overlay the guest had mounted.</summary>
public sealed record SnapshotFiles(string StatePath, string MemoryPath, string OverlayPath);

/// <summary>What the store knows of one key's snapshot, for the admin page.</summary>
public sealed record SnapshotStatus(
    string Hash, string Describe, bool Present, long Bytes, DateTimeOffset? Created, DateTimeOffset? LastUse, int Uses, int Failures, string? LastFailure, bool Taking);

/// <summary>
/// Golden snapshots on disk: <c>ROOT/HASH/</c> holds <c>state</c>, <c>memory</c> and <c>manifest.json</c>; the overlay
/// the guest had mounted lives at a path that never moves (<c>ROOT/overlays/HASH-N.ext4</c>), because the state file
/// names it and a restore opens it. A snapshot is written into a temporary folder and renamed into place whole, so a
/// crash leaves either the old one or none; <see cref="Find"/> checks the manifest against the files (sizes, the
/// state file's SHA-256) and reports a damaged one instead of handing it to a VMM.
/// </summary>
public sealed class SnapshotStore(string root, TimeProvider time)
{
    private const string ManifestName = "manifest.json";
    private const string StateName = "state";
    private const string MemoryName = "memory";

    private readonly ConcurrentDictionary<string, Stats> _stats = new(StringComparer.Ordinal);

    public string Root => root;

    /// <summary>
    /// Removes what a runner that stopped mid-way left: half-written snapshots (<c>.tmp-*</c>), discarded ones not
    /// yet deleted (<c>.discarded-*</c>), golden boot folders (<c>.golden-*</c>) and overlays no manifest names.
    /// Run once at start, before any snapshot is taken.
    /// </summary>
    public void Sweep()
    {
        if (!Directory.Exists(root))
        {
            return;
        }

        foreach (string dir in Directory.EnumerateDirectories(root, ".*"))
        {
            DeleteQuietly(dir);
        }

        string overlays = Path.Combine(root, "overlays");
        if (Directory.Exists(overlays))
        {
            HashSet<string> named = [.. Directory.EnumerateDirectories(root).Select(d => Path.Combine(d, ManifestName)).Where(File.Exists)
                .Select(m => { try { return JsonSerializer.Deserialize(File.ReadAllText(m), SnapshotJson.Default.Manifest)?.Overlay; } catch (JsonException) { return null; } })
                .OfType<string>()];
            foreach (string overlay in Directory.EnumerateFiles(overlays).Where(o => !named.Contains(o)))
            {
                File.Delete(overlay);
            }
        }
    }

    /// <summary>The snapshot of <paramref name="key"/> when it is whole; null with <paramref name="damaged"/> saying why when one is there but unusable, null without it when there is none.</summary>
    public SnapshotFiles? Find(SnapshotKey key, out string? damaged)
    {
        damaged = null;
        string dir = Path.Combine(root, key.Hash);
        string manifestPath = Path.Combine(dir, ManifestName);
        if (!Directory.Exists(dir))
        {
            return null;
        }

        try
        {
            Manifest m = JsonSerializer.Deserialize(File.ReadAllText(manifestPath), SnapshotJson.Default.Manifest)
                ?? throw new InvalidDataException("the manifest is empty");
            var files = new SnapshotFiles(Path.Combine(dir, StateName), Path.Combine(dir, MemoryName), m.Overlay);
            damaged = m.Format != SnapshotKey.Format ? $"it was written as {m.Format}, this runner reads {SnapshotKey.Format}"
                : m.Hash != key.Hash ? $"its manifest is for key {m.Hash}"
                : Size(files.StatePath) != m.StateBytes ? $"its state file is {Size(files.StatePath)} bytes, the manifest says {m.StateBytes}"
                : Size(files.MemoryPath) != m.MemoryBytes ? $"its memory file is {Size(files.MemoryPath)} bytes, the manifest says {m.MemoryBytes}"
                : !File.Exists(m.Overlay) ? $"its overlay {m.Overlay} is missing"
                : Sha256(files.StatePath) != m.StateSha256 ? "its state file does not match the manifest's SHA-256"
                : null;
            return damaged is null ? files : null;
        }
        catch (Exception e) when (e is IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
        {
            damaged = $"its manifest cannot be read: {e.Message}";
            return null;
        }
    }

    /// <summary>
    /// Takes a snapshot of <paramref name="key"/>: <paramref name="take"/> writes the state and memory files it is
    /// given while the guest's overlay is <paramref name="overlay"/> (which the store keeps); the folder is renamed
    /// into place only when all of it is written. Throws what <paramref name="take"/> throws, leaving nothing.
    /// </summary>
    public async Task<SnapshotFiles> CreateAsync(SnapshotKey key, Func<string, Task<string>> prepareOverlay, Func<string, string, string, Task> take)
    {
        Directory.CreateDirectory(root);
        string overlays = Path.Combine(root, "overlays");
        Directory.CreateDirectory(overlays);
        string temp = Path.Combine(root, $".tmp-{key.Hash}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        string? overlay = null;
        try
        {
            overlay = await prepareOverlay(overlays);
            string state = Path.Combine(temp, StateName), memory = Path.Combine(temp, MemoryName);
            await take(state, memory, overlay);
            var m = new Manifest
            {
                Format = SnapshotKey.Format, Hash = key.Hash, Describe = key.Describe(), Created = time.GetUtcNow(), Overlay = overlay,
                StateBytes = Size(state), MemoryBytes = Size(memory), StateSha256 = Sha256(state),
            };
            await File.WriteAllTextAsync(Path.Combine(temp, ManifestName), JsonSerializer.Serialize(m, SnapshotJson.Default.Manifest));
            string dir = Path.Combine(root, key.Hash);
            if (Directory.Exists(dir))
            {
                Discard(key, null);
            }

            Directory.Move(temp, dir);
            Stat(key).Describe = key.Describe();
            return new SnapshotFiles(Path.Combine(dir, StateName), Path.Combine(dir, MemoryName), overlay);
        }
        catch
        {
            DeleteQuietly(temp);
            if (overlay is not null)
            {
                File.Delete(overlay);
            }

            throw;
        }
    }

    /// <summary>Removes <paramref name="key"/>'s snapshot (a damaged or refused one), counting <paramref name="failure"/> when given.</summary>
    public void Discard(SnapshotKey key, string? failure)
    {
        if (failure is not null)
        {
            Stats s = Stat(key);
            s.Describe = key.Describe();
            Interlocked.Increment(ref s.Failures);
            s.LastFailure = failure;
        }

        string dir = Path.Combine(root, key.Hash);
        string? overlay = null;
        try
        {
            overlay = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(dir, ManifestName)), SnapshotJson.Default.Manifest)?.Overlay;
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            // no manifest: nothing more to find
        }

        // Renamed away first, so a concurrent Find sees none rather than half of one.
        string gone = Path.Combine(root, $".discarded-{key.Hash}-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(dir, gone);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }

        DeleteQuietly(gone);
        if (overlay is not null && Path.GetDirectoryName(overlay) == Path.Combine(root, "overlays"))
        {
            File.Delete(overlay);
        }
    }

    public void RecordUse(SnapshotKey key)
    {
        Stats s = Stat(key);
        s.Describe = key.Describe();
        s.LastUse = time.GetUtcNow();
        Interlocked.Increment(ref s.Uses);
    }

    /// <summary>Marks <paramref name="key"/> as being taken (or not), for the admin page.</summary>
    public void SetTaking(SnapshotKey key, bool taking)
    {
        Stats s = Stat(key);
        s.Describe = key.Describe();
        s.Taking = taking;
    }

    /// <summary>Every snapshot on disk and every key this runner has used or failed on.</summary>
    public IReadOnlyList<SnapshotStatus> List()
    {
        Dictionary<string, SnapshotStatus> all = [];
        if (Directory.Exists(root))
        {
            foreach (string dir in Directory.EnumerateDirectories(root).Where(d => !Path.GetFileName(d).StartsWith('.') && Path.GetFileName(d) != "overlays"))
            {
                string hash = Path.GetFileName(dir);
                Manifest? m = null;
                try
                {
                    m = JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(dir, ManifestName)), SnapshotJson.Default.Manifest);
                }
                catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
                {
                }

                Stats? s = _stats.GetValueOrDefault(hash);
                long bytes = Directory.EnumerateFiles(dir).Sum(Size) + (m is not null && File.Exists(m.Overlay) ? Size(m.Overlay) : 0);
                all[hash] = new SnapshotStatus(hash, m?.Describe ?? s?.Describe ?? "", m is not null, bytes, m?.Created, s?.LastUse, s?.Uses ?? 0, s?.Failures ?? 0, s?.LastFailure, s?.Taking ?? false);
            }
        }

        foreach ((string hash, Stats s) in _stats)
        {
            all.TryAdd(hash, new SnapshotStatus(hash, s.Describe, false, 0, null, s.LastUse, s.Uses, s.Failures, s.LastFailure, s.Taking));
        }

        return [.. all.Values.OrderBy(v => v.Hash, StringComparer.Ordinal)];
    }

    private Stats Stat(SnapshotKey key) => _stats.GetOrAdd(key.Hash, _ => new Stats());

    private static long Size(string path) => new FileInfo(path) is { Exists: true } f ? f.Length : -1;

    private static string Sha256(string path)
    {
        using FileStream s = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    private static void DeleteQuietly(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private sealed class Stats
    {
        public int Uses;
        public int Failures;
        public string Describe = "";
        public DateTimeOffset? LastUse;
        public string? LastFailure;
        public bool Taking;
    }

    internal sealed class Manifest
    {
        [JsonPropertyName("format")] public string Format { get; set; } = "";
        [JsonPropertyName("hash")] public string Hash { get; set; } = "";
        [JsonPropertyName("describe")] public string Describe { get; set; } = "";
        [JsonPropertyName("created")] public DateTimeOffset Created { get; set; }
        [JsonPropertyName("overlay")] public string Overlay { get; set; } = "";
        [JsonPropertyName("state_bytes")] public long StateBytes { get; set; }
        [JsonPropertyName("memory_bytes")] public long MemoryBytes { get; set; }
        [JsonPropertyName("state_sha256")] public string StateSha256 { get; set; } = "";
    }
}

[JsonSerializable(typeof(SnapshotStore.Manifest))]
[JsonSourceGenerationOptions(WriteIndented = true)]
internal sealed partial class SnapshotJson : JsonSerializerContext;
