using Kindling.Runner.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>
/// Warm slots (<c>Pools[].Warm = N</c>, issue 21): per pool, N VMs restored from the pool's golden snapshot and
/// left paused (<see cref="WarmSlot"/>), so that a job of the pool starts by resuming one instead of restoring or
/// booting. Refilled in the background after each take, one slot at a time per pool, never past N; a failed
/// refill waits (<see cref="FirstBackoff"/>, doubling to <see cref="MaxBackoff"/>) and says why in the log and
/// on the admin page. No golden snapshot yet (it is taken by <see cref="WarmStarts"/>), or one the VMM refuses:
/// no slots, jobs restore or cold-boot as without a pool.
/// </summary>
/// <remarks>
/// <para>
/// Capacity: a slot holds a VM's memory and vCPUs, so it counts against the host's capacity from the moment it is
/// being made; the scheduler counts the slots nobody has claimed as host usage, and a job it admits for a pool with
/// a ready slot is charged nothing more on the host: it claims that slot (<see cref="Claim"/>) and takes its place.
/// A refill starts only when the jobs on the host plus every slot plus the new one fit. Tenant quotas count a slot
/// only once a job has taken it (then it is that job's VM).
/// </para>
/// <para>
/// Nothing is left: stopping (<see cref="DisposeAsync"/>), a drain (<see cref="SuspendAsync"/>) or a slot whose key no
/// longer matches the pool's jobs (a rebuilt image) kill the VMM and remove its jail, TAP (slots have no nft elements:
/// those are added when a job takes one) and folder. After a crash, <see cref="ReapLeftoversAsync"/> (the reaper,
/// at start-up and periodically) kills what runs under <c>STATE/warm</c> and removes the folders no slot holds; the
/// reaper removes <c>ktw</c> TAPs no slot or job holds.
/// </para>
/// </remarks>
public sealed partial class WarmPool : IAsyncDisposable
{
    public const string Folder = "warm";
    public static readonly TimeSpan FirstBackoff = TimeSpan.FromSeconds(10);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(10);

    private readonly KindlingOptions _o;
    private readonly WarmStarts? _warm;
    private readonly IVmLauncher _launcher;
    private readonly IImageProvider _images;
    private readonly ITapManager _taps;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, PoolState> _pools = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();
    private long _next = Random.Shared.Next(1_000_000);
    private string? _suspended;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WarmPool(IOptions<KindlingOptions> options, IVmLauncher launcher, IImageProvider images, ITapManager taps, TimeProvider time, ILogger<WarmPool> log)
    {
        _o = options.Value;
        _warm = launcher as WarmStarts;
        (_launcher, _images, _taps, _time, _log) = (launcher, images, taps, time, log);
        foreach (PoolOptions p in _o.Pools.Where(p => p.Warm > 0))
        {
            _pools[p.Name] = new PoolState(p);
        }

        if (_pools.Count > 0 && _warm is null)
        {
            LogNoSnapshots(_log, string.Join(", ", _pools.Keys));
        }
    }

    /// <summary>Where slots live: <c>STATE/warm/N/</c>.</summary>
    public string Root => Path.Combine(_o.StateDirectory, Folder);

    /// <summary>Whether any pool keeps warm slots (and warm starts are on, which they need).</summary>
    public bool Enabled => _warm is not null && _pools.Count > 0;

    /// <summary>The vCPUs and memory of this host's live jobs (the dispatcher sets it): a refill starts only when the slot fits beside them.</summary>
    public Func<(int Vcpus, int MemoryMib)>? JobsOnHost { get; set; }

    /// <summary>
    /// The dispatcher's admission lock: a refill decides that its slot fits, and reserves it, under the same lock as
    /// an admission, so the two never both take the host's last room.
    /// </summary>
    public Lock CapacityGate { get; set; } = new();

    /// <summary>Each pool with a <c>Warm</c> target, in config order.</summary>
    public IReadOnlyList<WarmPoolStatus> Status()
    {
        lock (_gate)
        {
            return [.. _pools.Values.Select(p => new WarmPoolStatus(p.Options.Name, p.Options.Warm, p.Ready.Count, p.Fill is null ? 0 : 1, p.Taken,
                p.Waiting, p.LastError, p.LastErrorAt, p.NotBefore > _time.GetUtcNow() ? p.NotBefore : null))];
        }
    }

    /// <summary>Completes at the next change of any pool's slots (for tests and the benchmark: waits without polling).</summary>
    public Task Changed
    {
        get
        {
            lock (_gate)
            {
                return _changed.Task;
            }
        }
    }

    /// <summary>The vCPUs and memory the slots hold that no admitted job has claimed (ready or being made): host usage for the scheduler.</summary>
    public (int Vcpus, int MemoryMib) Reserved
    {
        get
        {
            lock (_gate)
            {
                IEnumerable<PoolOptions> held = _pools.Values.SelectMany(p =>
                    p.Ready.Where(s => s.ClaimedBy is null).Select(_ => p.Options).Concat(p.Fill is null ? [] : [p.Options]));
                return (held.Sum(o => o.Vcpus), held.Sum(o => o.MemoryMib));
            }
        }
    }

    /// <summary>Per pool, the ready slots no admitted job has claimed (the scheduler charges a job that will take one nothing more).</summary>
    public IReadOnlyDictionary<string, int> Unclaimed()
    {
        lock (_gate)
        {
            return _pools.Values.ToDictionary(p => p.Options.Name, p => p.Ready.Count(s => s.ClaimedBy is null), StringComparer.Ordinal);
        }
    }

    /// <summary>Keeps a ready slot of <paramref name="pool"/> for admitted job <paramref name="jobId"/>; false when none is free.</summary>
    public bool Claim(string pool, long jobId)
    {
        lock (_gate)
        {
            if (_pools.TryGetValue(pool, out PoolState? p) && p.Ready.FirstOrDefault(s => s.ClaimedBy is null) is { } slot)
            {
                slot.ClaimedBy = jobId;
                return true;
            }

            return false;
        }
    }

    /// <summary>Frees the slot <paramref name="jobId"/> claimed and did not take (it failed or was re-queued first).</summary>
    public void Unclaim(long jobId)
    {
        lock (_gate)
        {
            foreach (WarmSlot s in _pools.Values.SelectMany(p => p.Ready).Where(s => s.ClaimedBy == jobId))
            {
                s.ClaimedBy = null;
            }
        }
    }

    /// <summary>
    /// A ready slot of <paramref name="pool"/> for job <paramref name="jobId"/> (the one it claimed, else any free one),
    /// or null. <paramref name="record"/> runs before the pool lets go of it (the job records the slot's VM, pid and
    /// TAP as its own, so that the reaper sees them held at every moment). A slot of another <paramref name="key"/> is
    /// discarded (its pool refills with the current one). Starts a refill.
    /// </summary>
    public WarmSlot? Take(string pool, long jobId, SnapshotKey key, Action<WarmSlot> record)
    {
        WarmSlot? slot = null, stale = null;
        PoolState? state = null;
        lock (_gate)
        {
            if (_pools.TryGetValue(pool, out state) &&
                (state.Ready.FirstOrDefault(s => s.ClaimedBy == jobId) ?? state.Ready.FirstOrDefault(s => s.ClaimedBy is null)) is { } found)
            {
                state.Ready.Remove(found);
                if (found.Key != key || found.Vm is not { Exited.IsCompleted: false })
                {
                    stale = found;
                }
                else
                {
                    state.Handing.Add(found); // still held (the reaper's view) until the job has recorded it
                    state.Taken++;
                    slot = found;
                }
            }

            Signal();
        }

        if (slot is not null)
        {
            // Outside the lock: the job store's write must never wait while holding what an admission asks for.
            try
            {
                record(slot);
            }
            catch
            {
                _ = Task.Run(() => DestroyAsync(slot), CancellationToken.None);
                throw;
            }
            finally
            {
                lock (_gate)
                {
                    state!.Handing.Remove(slot);
                }
            }
        }

        if (stale is not null)
        {
            LogStale(_log, stale.VmId, pool, stale.Vm is { Exited.IsCompleted: false } ? "it was restored from another snapshot than the job's (a rebuilt image or kernel)" : "its VMM has exited");
            _ = Task.Run(() => DestroyAsync(stale), CancellationToken.None);
        }

        Refill();
        return slot;
    }

    /// <summary>Hands a taken slot's VM its job: <paramref name="request"/>'s MMDS (secrets arrive only now), then resume.</summary>
    public async Task<IVmHandle> ResumeAsync(WarmSlot slot, VmLaunchRequest request, CancellationToken ct)
    {
        if (_warm is null || slot.Vm is not { } vm)
        {
            throw new VmLaunchException($"warm slot {slot.VmId} has no VM to resume");
        }

        VmLaunchRequest stamped = request with { Mmds = WarmStarts.Stamp(request.Mmds, _time.GetUtcNow(), Interlocked.Increment(ref _generation)) };
        return await _warm.Snapshots.ResumeAsync(stamped, vm, ct);
    }

    private long _generation;

    /// <summary>
    /// Starts making slots for each pool below its target, when nothing stops it (stopping, suspended, backing off
    /// after a failure, already making one) and the slot fits the host beside its jobs and the other slots.
    /// </summary>
    public void Refill()
    {
        if (!Enabled || _stopping.IsCancellationRequested)
        {
            return;
        }

        List<PoolState> full = [];
        lock (CapacityGate)
        {
            lock (_gate)
            {
                if (_suspended is not null)
                {
                    return;
                }

                foreach (PoolState p in _pools.Values)
                {
                    if (p.Fill is null && p.Ready.Count < p.Options.Warm && _time.GetUtcNow() >= p.NotBefore && p.AwaitingGolden is null)
                    {
                        if (!Fits(p.Options))
                        {
                            full.Add(p);
                            continue;
                        }

                        p.Fill = Task.Run(() => FillAsync(p), CancellationToken.None); // reserves its room (Reserved) from now
                    }
                }
            }
        }

        foreach (PoolState p in full)
        {
            SetWaiting(p, "the host is full (its jobs and slots hold its capacity): a slot is made when a job ends");
        }
    }

    /// <summary>Kills every slot and makes none until <see cref="Resume"/> (a drained host: it runs nothing new).</summary>
    public async Task SuspendAsync(string why)
    {
        bool first;
        lock (_gate)
        {
            first = _suspended is null;
            _suspended = why;
        }

        if (first && Enabled)
        {
            LogSuspended(_log, why);
        }

        await DiscardAllAsync();
    }

    /// <summary>Makes slots again after <see cref="SuspendAsync"/>.</summary>
    public void Resume()
    {
        lock (_gate)
        {
            _suspended = null;
        }

        Refill();
    }

    /// <summary>Stops refilling and kills every slot (the runner is stopping); nothing is left.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        await _stopping.CancelAsync();
        Task[] fills;
        lock (_gate)
        {
            fills = [.. _pools.Values.Select(p => p.Fill).OfType<Task>()];
        }

        await Task.WhenAll(fills);
        await DiscardAllAsync();
    }

    /// <summary>The TAPs, VM ids and folders the pool holds now (the reaper leaves them alone).</summary>
    public (IReadOnlySet<string> Taps, IReadOnlySet<string> VmIds, IReadOnlySet<string> Directories) Held()
    {
        lock (_gate)
        {
            List<WarmSlot> all = [.. _pools.Values.SelectMany(p => p.Ready.Concat(p.Handing).Append(p.Filling).OfType<WarmSlot>())];
            return (all.Select(s => s.Network?.TapName).OfType<string>().ToHashSet(StringComparer.Ordinal), all.Select(s => s.VmId).ToHashSet(StringComparer.Ordinal),
                all.Select(s => s.Workspace.Directory).ToHashSet(StringComparer.Ordinal));
        }
    }

    /// <summary>Makes one slot of <paramref name="p"/>; then, when it worked, the next one (<see cref="Refill"/> decides).</summary>
    private async Task FillAsync(PoolState p)
    {
        bool made = false;
        try
        {
            await MakeSlotAsync(p);
            SetWaiting(p, null);
            lock (_gate)
            {
                p.Backoff = TimeSpan.Zero;
            }

            made = true;
        }
        catch (NoGoldenSnapshotException e)
        {
            SetWaiting(p, e.Message);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // stopping
        }
        catch (Exception e)
        {
            Failed(p, e.Message);
        }
        finally
        {
            lock (_gate)
            {
                p.Fill = null;
                Signal();
            }
        }

        if (made)
        {
            Refill();
        }
    }

    /// <summary>Whether one more slot of <paramref name="pool"/> fits the host beside its jobs and the unclaimed slots; under both locks.</summary>
    private bool Fits(PoolOptions pool)
    {
        (int jobsV, int jobsM) = JobsOnHost?.Invoke() ?? (0, 0);
        (int slotsV, int slotsM) = Reserved;
        int vcpuLimit = (int)Math.Floor(_o.Host.Vcpus * _o.Host.Oversubscription);
        return jobsV + slotsV + pool.Vcpus <= vcpuLimit && jobsM + slotsM + pool.MemoryMib <= _o.Host.MemoryMib;
    }

    private void SetWaiting(PoolState p, string? why)
    {
        bool changed;
        lock (_gate)
        {
            changed = p.Waiting != why;
            p.Waiting = why;
            Signal();
        }

        if (changed && why is not null)
        {
            LogWaiting(_log, p.Options.Name, why);
        }
    }

    private void Failed(PoolState p, string why)
    {
        lock (_gate)
        {
            TimeSpan wait = p.Backoff = p.Backoff == TimeSpan.Zero ? FirstBackoff : TimeSpan.FromTicks(Math.Min(p.Backoff.Ticks * 2, MaxBackoff.Ticks));
            p.NotBefore = _time.GetUtcNow() + wait;
            // The retry's timer exists before anyone can see the failure (a test advances its clock then).
            _ = Task.Delay(wait, _time, _stopping.Token).ContinueWith(_ => Refill(), CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default);
            p.LastError = why;
            p.LastErrorAt = _time.GetUtcNow();
            LogRefillFailed(_log, p.Options.Name, why, wait);
            Signal();
        }
    }

    private async Task DiscardAllAsync()
    {
        List<WarmSlot> all;
        lock (_gate)
        {
            all = [.. _pools.Values.SelectMany(p => p.Ready)];
            foreach (PoolState p in _pools.Values)
            {
                p.Ready.Clear();
            }

            Signal();
        }

        await Task.WhenAll(all.Select(DestroyAsync));
    }

    /// <summary>Wakes whoever waits on <see cref="Changed"/>; under <see cref="_gate"/>.</summary>
    private void Signal()
    {
        _changed.TrySetResult();
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private sealed class PoolState(PoolOptions options)
    {
        public PoolOptions Options { get; } = options;
        public List<WarmSlot> Ready { get; } = [];

        /// <summary>Taken slots whose job is recording them (held until it has).</summary>
        public List<WarmSlot> Handing { get; } = [];
        public WarmSlot? Filling { get; set; }
        public Task? Fill { get; set; }
        public Task? AwaitingGolden { get; set; }
        public int Taken { get; set; }
        public string? Waiting { get; set; }
        public string? LastError { get; set; }
        public DateTimeOffset? LastErrorAt { get; set; }
        public DateTimeOffset NotBefore { get; set; }
        public TimeSpan Backoff { get; set; }
    }

    private sealed class NoGoldenSnapshotException(string message) : Exception(message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "pools {Pools} have Warm set but warm starts are off (Launcher:Snapshots): they keep no warm slots")]
    private static partial void LogNoSnapshots(ILogger log, string pools);

    [LoggerMessage(Level = LogLevel.Information, Message = "pool {Pool} has no warm slots now: {Why}")]
    private static partial void LogWaiting(ILogger log, string pool, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "pool {Pool}: making a warm slot failed: {Why}; next try in {Backoff}")]
    private static partial void LogRefillFailed(ILogger log, string pool, string why, TimeSpan backoff);

    [LoggerMessage(Level = LogLevel.Information, Message = "warm slots discarded and none made: {Why}")]
    private static partial void LogSuspended(ILogger log, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "warm slot {VmId} of pool {Pool} discarded: {Why}")]
    private static partial void LogStale(ILogger log, string vmId, string pool, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "discarding warm slot {VmId} left something behind: {Why} (the reaper removes it)")]
    private static partial void LogDiscardFailed(ILogger log, string vmId, string why);
}
