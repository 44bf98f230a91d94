using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;
using Microsoft.Extensions.Logging;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>
/// Warm starts (issue 21): a launcher in front of the real one that restores each job's VM from the golden
/// snapshot of its key (<see cref="SnapshotKey"/>) when there is one, and cold-boots it otherwise while a golden
/// snapshot of that key is taken in the background (<see cref="GoldenSnapshot"/>). A damaged or refused snapshot
/// costs one log line and a cold boot; it is discarded and taken again.
/// </summary>
/// <remarks>
/// What a restore does per job: the golden overlay (the disk the guest had mounted when it was snapshotted) is
/// copied over the job's overlay, so disk and memory agree; the VMM loads the snapshot paused with the job's TAP,
/// swaps the overlay drive to the job's copy, takes the job's MMDS (its document re-stamped with the host clock
/// and this clone's generation) and resumes. A job that brings a workspace (replay) has it built into its
/// overlay, which a golden overlay cannot hold: it cold-boots.
/// </remarks>
public sealed partial class WarmStarts : IVmLauncher, IDisposable, IAsyncDisposable
{
    /// <summary>Ends golden boots in flight when the runner stops (their VMs are killed, nothing is left running).</summary>
    private readonly CancellationTokenSource _stopping = new();

    private readonly IVmLauncher _inner;
    private readonly ISnapshotLauncher _snapshots;
    private readonly GoldenSnapshot _golden;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<string, Task> _taking = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Until, TimeSpan Backoff)> _backoff = new(StringComparer.Ordinal);
    private long _generation;

    /// <summary>The wait after a failed golden boot before the next try of that key: doubles from this up to <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromMinutes(1);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromHours(1);

    public WarmStarts(IVmLauncher inner, ISnapshotLauncher snapshots, SnapshotStore store, GoldenSnapshot golden, TimeProvider time, ILogger<WarmStarts> log)
    {
        _inner = inner;
        _snapshots = snapshots;
        Store = store;
        _golden = golden;
        _time = time;
        _log = log;
        store.Sweep();
    }

    public SnapshotStore Store { get; }

    /// <summary>The launcher behind warm starts (the launcher itself when they are off).</summary>
    public IVmLauncher Inner => _inner;

    /// <summary><paramref name="launcher"/> without warm starts in front of it.</summary>
    public static IVmLauncher Unwrap(IVmLauncher launcher) => launcher is WarmStarts w ? w._inner : launcher;

    public bool PatchesMmds => _inner.PatchesMmds;

    public bool IsOurProcess(int pid, string vmId) => _inner.IsOurProcess(pid, vmId);

    public Task ReleaseAsync(string vmId, CancellationToken ct) => _inner.ReleaseAsync(vmId, ct);

    public Task<IReadOnlyList<string>> ReapOrphansAsync(IReadOnlySet<string> liveVmIds, CancellationToken ct) => _inner.ReapOrphansAsync(liveVmIds, ct);

    /// <summary>The golden snapshot being taken for <paramref name="key"/> (completed when none is), for tests and benchmarks.</summary>
    public Task Taking(SnapshotKey key) => _taking.GetValueOrDefault(key.Hash) ?? Task.CompletedTask;

    public void Dispose()
    {
        _stopping.Cancel();
        _stopping.Dispose();
    }

    /// <summary>Stops golden boots in flight and waits (up to a minute) until their VMs are gone.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await Task.WhenAny(Idle, Task.Delay(TimeSpan.FromMinutes(1), CancellationToken.None));
        _stopping.Dispose();
    }

    /// <summary>Completes when every golden snapshot being taken now is done (taken or failed).</summary>
    public Task Idle => Task.WhenAll(_taking.Values);

    /// <summary>Keys whose golden snapshot is being taken now.</summary>
    public int TakingCount => _taking.Count;

    public async Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct)
    {
        var key = SnapshotKey.For(request.VmConfig);
        if (Directory.Exists(Path.Combine(request.Workspace.Directory, ImageStoreProvider.WorkspaceFolder)))
        {
            LogWorkspaceCold(_log, request.VmId);
            return await _inner.LaunchAsync(request, onSpawned, ct);
        }

        SnapshotFiles? files = Store.Find(key, out string? damaged);
        if (damaged is not null)
        {
            LogColdBoot(_log, request.VmId, key.Hash, $"its snapshot is damaged ({damaged}); it is discarded and taken again");
            Store.Discard(key, damaged);
        }

        if (files is null)
        {
            StartTaking(key, request);
            return await _inner.LaunchAsync(request, onSpawned, ct);
        }

        try
        {
            await CopyOverlayAsync(files.OverlayPath, request.VmConfig, ct);
            long generation = Interlocked.Increment(ref _generation);
            VmLaunchRequest stamped = request with { Mmds = Stamp(request.Mmds, _time.GetUtcNow(), generation) };
            IVmHandle vm = await _snapshots.RestoreAsync(stamped, files, onSpawned, ct);
            Store.RecordUse(key);
            return new RestoredVmHandle(vm);
        }
        catch (Exception e) when (e is VmLaunchException or IOException)
        {
            LogColdBoot(_log, request.VmId, key.Hash, $"its snapshot was refused ({e.Message}); it is discarded and taken again");
            Store.Discard(key, e.Message);
            StartTaking(key, request);
            return await _inner.LaunchAsync(request, onSpawned, ct);
        }
    }

    /// <summary>
    /// The MMDS of <paramref name="mmds"/> with its job document's host section set to <paramref name="now"/> and
    /// <paramref name="generation"/> (the clock of the moment of the restore, not of when the job was prepared).
    /// </summary>
    internal static JsonObject Stamp(JsonObject mmds, DateTimeOffset now, long generation)
    {
        JsonObject copy = mmds.DeepClone().AsObject();
        if (copy[MmdsKeys.Kindling]?[JobDocument.Key]?.GetValue<string>() is not { } text)
        {
            return copy;
        }

        JsonObject tree = JobDocument.Parse(text);
        JsonObject host = tree[MmdsKeys.Kindling]![MmdsKeys.Host.Key] as JsonObject ?? new JsonObject();
        host[MmdsKeys.Host.Clock] = now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        host[MmdsKeys.Host.Generation] = generation.ToString(CultureInfo.InvariantCulture);
        tree[MmdsKeys.Kindling]![MmdsKeys.Host.Key] = host;
        copy[MmdsKeys.Kindling]![JobDocument.Key] = JobDocument.Encode(tree);
        return copy;
    }

    /// <summary>The launcher's snapshot side (warm slots restore through it).</summary>
    internal ISnapshotLauncher Snapshots => _snapshots;

    /// <summary>Takes the golden snapshot of <paramref name="key"/> in the background, once at a time per key, backing off after failures.</summary>
    internal void StartTaking(SnapshotKey key, VmLaunchRequest like)
    {
        if (_stopping.IsCancellationRequested || (_backoff.TryGetValue(key.Hash, out var b) && _time.GetUtcNow() < b.Until))
        {
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_taking.TryAdd(key.Hash, started.Task))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            Store.SetTaking(key, true);
            try
            {
                await _golden.TakeAsync(key, like, _stopping.Token);
                _backoff.TryRemove(key.Hash, out _);
                string describe = key.Describe();
                LogTaken(_log, key.Hash, describe);
            }
            catch (Exception e)
            {
                TimeSpan next = _backoff.TryGetValue(key.Hash, out var last) ? TimeSpan.FromTicks(Math.Min(last.Backoff.Ticks * 2, MaxBackoff.Ticks)) : FirstBackoff;
                _backoff[key.Hash] = (_time.GetUtcNow() + next, next);
                Store.Discard(key, $"taking it failed: {e.Message}");
                LogTakeFailed(_log, key.Hash, e.Message, next);
            }
            finally
            {
                Store.SetTaking(key, false);
                _taking.TryRemove(key.Hash, out _);
                started.TrySetResult();
            }
        }, CancellationToken.None);
    }

    /// <summary>The golden overlay copied over the request's overlay drive (sparse; a reflink where the file system has them).</summary>
    internal static async Task CopyOverlayAsync(string golden, VmConfig config, CancellationToken ct)
    {
        string target = config.Drives.FirstOrDefault(d => d.DriveId == VmConfigBuilder.OverlayDriveId)?.PathOnHost
            ?? throw new VmLaunchException("the VM has no overlay drive to restore into");
        if (!File.Exists(golden))
        {
            throw new VmLaunchException($"the golden overlay {golden} is missing");
        }

        ProcessResult p = await ProcessRunner.RunAsync("cp", ["--sparse=always", "--reflink=auto", golden, target], new ProcessOptions { Timeout = TimeSpan.FromMinutes(1) }, ct);
        if (p.ExitCode != 0)
        {
            throw new IOException($"copying the golden overlay to {target} failed: {p.StandardError.Trim()}");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{VmId}: cold boot instead of a restore from snapshot {Hash}: {Why}")]
    private static partial void LogColdBoot(ILogger log, string vmId, string hash, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "{VmId}: cold boot: the job brings a workspace, which is built into its overlay")]
    private static partial void LogWorkspaceCold(ILogger log, string vmId);

    [LoggerMessage(Level = LogLevel.Information, Message = "golden snapshot {Hash} taken ({Describe}): jobs of this kind now restore from it")]
    private static partial void LogTaken(ILogger log, string hash, string describe);

    [LoggerMessage(Level = LogLevel.Warning, Message = "golden snapshot {Hash} could not be taken: {Why}; jobs cold-boot, next try in {Backoff}")]
    private static partial void LogTakeFailed(ILogger log, string hash, string why, TimeSpan backoff);
}

/// <summary>A VM that was restored from a snapshot (the job's timeline says "restore" instead of "boot").</summary>
internal sealed class RestoredVmHandle(IVmHandle inner) : IVmHandle
{
    public int Pid => inner.Pid;

    public Task<int> Exited => inner.Exited;

    public bool Restored => true;

    public Task KillAsync() => inner.KillAsync();

    public Task PatchMmdsAsync(JsonObject patch, CancellationToken ct) => inner.PatchMmdsAsync(patch, ct);

    public ValueTask DisposeAsync() => inner.DisposeAsync();
}
