using Kindling.Runner.Configuration;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>
/// The warm pool on its own, over the stub launcher: refills back off after a failure (with a log line, on the
/// injected clock), a drain or a stop leaves nothing (with real TAPs as root), a crashed runner's slots are reaped.
/// </summary>
public sealed class WarmPoolTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 4, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-warmpool-").FullName;
    private readonly FakeTimeProvider _time = new(Now);
    private readonly CountingSnapshotLauncher _c = new(new StubVmLauncher(TimeSpan.Zero));
    private readonly ListLogger<WarmPool> _log = new();
    private readonly GoldenSnapshot _golden;
    private readonly WarmStarts _warm;
    private readonly PlaceholderImageProvider _images;

    public WarmPoolTests()
    {
        _images = new PlaceholderImageProvider(Path.Combine(_dir, "images"));
        var store = new SnapshotStore(Path.Combine(_dir, "images", "snapshots"), _time);
        _golden = new GoldenSnapshot(_c, _c, store, _images, new NoTapManager(), TimeSpan.FromMinutes(1));
        _warm = new WarmStarts(_c, _c, store, _golden, _time, NullLogger<WarmStarts>.Instance);
    }

    public async ValueTask DisposeAsync()
    {
        await _warm.DisposeAsync();
        _golden.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Waits (event-driven, generously) until the pools' status satisfies <paramref name="done"/>.</summary>
    internal static async Task UntilAsync(WarmPool pool, Func<IReadOnlyList<WarmPoolStatus>, bool> done)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(TimeSpan.FromMinutes(1));
        while (true)
        {
            Task changed = pool.Changed;
            IReadOnlyList<WarmPoolStatus> now = pool.Status();
            if (done(now))
            {
                return;
            }

            try
            {
                await changed.WaitAsync(limit.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"the warm pool never got there: {string.Join("; ", now)}");
            }
        }
    }

    [Fact]
    public async Task Refill_RestoreOfASlotFails_LogsBacksOffAndTriesAgainOnlyAfterTheWait()
    {
        await using WarmPool pool = Pool(warm: 1);
        _c.FailPausedRestores = 1_000;
        await TakeGoldenAsync(pool);
        await UntilAsync(pool, s => s[0].LastError is not null && s[0].Refilling == 0);
        int tries = _c.PausedRestores;
        Assert.Equal(1, tries);

        for (int i = 0; i < 5; i++)
        {
            pool.Refill(); // as the dispatcher's loop does, again and again
        }

        WarmPoolStatus s = Assert.Single(pool.Status());
        Assert.Equal(tries, _c.PausedRestores); // no hot loop: nothing until the wait is over
        Assert.Equal(0, s.Ready);
        Assert.Contains("cannot open /dev/kvm", s.LastError, StringComparison.Ordinal);
        Assert.Equal(Now + WarmPool.FirstBackoff, s.RetryAt);
        Assert.Contains(_log.Messages, m => m.Contains("making a warm slot failed", StringComparison.Ordinal) && m.Contains("next try in 00:00:10", StringComparison.Ordinal));

        _c.FailPausedRestores = 0;
        _time.Advance(WarmPool.FirstBackoff);
        await UntilAsync(pool, st => st[0].Ready == 1);
        Assert.Equal(tries + 1, _c.PausedRestores);
    }

    [Fact]
    public async Task Refill_NoGoldenSnapshotYet_NoSlotsSaysWhyThenFillsOnceTaken()
    {
        await using WarmPool pool = Pool(warm: 2);
        pool.Refill();
        await UntilAsync(pool, s => s[0].Ready == 2);

        Assert.Contains(_log.Messages, m => m.Contains("has no warm slots now: no golden snapshot", StringComparison.Ordinal));
        Assert.Equal(1, _c.Boots);
        Assert.Null(pool.Status()[0].Waiting);
    }

    [Fact]
    public async Task SuspendAsync_HostDrained_SlotsKilledAndNoneMadeUntilResumed()
    {
        await using WarmPool pool = Pool(warm: 2);
        await TakeGoldenAsync(pool);
        await UntilAsync(pool, s => s[0].Ready == 2);

        await pool.SuspendAsync("the host is drained");
        pool.Refill();

        Assert.Equal(0, pool.Status()[0].Ready);
        Assert.Empty(Directory.GetDirectories(pool.Root));
        Assert.Empty(ProcessInspector.WorkingUnder(pool.Root));
        Assert.Equal(2, _c.PausedRestores);

        pool.Resume();
        await UntilAsync(pool, s => s[0].Ready == 2);
        Assert.Equal(4, _c.PausedRestores);
    }

    [Fact]
    public async Task ReapLeftoversAsync_SlotsOfARunnerThatCrashed_ProcessesKilledFoldersRemoved()
    {
        string root;
        await using (WarmPool crashed = Pool(warm: 2))
        {
            await TakeGoldenAsync(crashed);
            await UntilAsync(crashed, s => s[0].Ready == 2);
            root = crashed.Root;
            // A crash: the next runner's pool starts while these VMs still run (this one is disposed only after).
            await using WarmPool next = Pool(warm: 2);
            Assert.True(SpinWait.SpinUntil(() => ProcessInspector.WorkingUnder(root).Count == 2, TimeSpan.FromSeconds(30)), RunningNote);

            IReadOnlyList<string> removed = await next.ReapLeftoversAsync();

            Assert.Equal(2, removed.Count(r => r.StartsWith("warm slot VM process", StringComparison.Ordinal)));
            Assert.Equal(2, removed.Count(r => r.StartsWith("warm slot folder", StringComparison.Ordinal)));
            Assert.Empty(ProcessInspector.WorkingUnder(root));
            Assert.Empty(Directory.GetDirectories(root));
        }
    }

    [Fact]
    public async Task ReapLeftoversAsync_SlotsThisPoolHolds_LeftAlone()
    {
        await using WarmPool pool = Pool(warm: 1);
        await TakeGoldenAsync(pool);
        await UntilAsync(pool, s => s[0].Ready == 1);

        Assert.True(SpinWait.SpinUntil(() => ProcessInspector.WorkingUnder(pool.Root).Count == 1, TimeSpan.FromSeconds(30)), RunningNote);

        Assert.Empty(await pool.ReapLeftoversAsync());
        Assert.Single(ProcessInspector.WorkingUnder(pool.Root));
    }

    [RootFact]
    public async Task DisposeAsync_SlotsWithRealTaps_TapsProcessesAndFoldersGone()
    {
        var taps = new IpTapManager(owner: _dir);
        WarmPool pool = Pool(warm: 2, taps: taps, network: true);
        await TakeGoldenAsync(pool);
        await UntilAsync(pool, s => s[0].Ready == 2);
        IReadOnlySet<string> held = pool.Held().Taps;
        Assert.Equal(2, held.Count);
        Assert.All(held, t => Assert.Contains(t, taps.List().Ours));
        // No address until a job takes it (the job's), and no guest network elements (the tenant's rules come with the job).
        Assert.All(held, t => Assert.DoesNotContain("inet ", Ip("-4", "addr", "show", "dev", t), StringComparison.Ordinal));

        await pool.DisposeAsync();

        Assert.All(held, t => Assert.False(Directory.Exists($"/sys/class/net/{t}"), $"{t} is still there"));
        Assert.Empty(ProcessInspector.WorkingUnder(pool.Root));
        Assert.Empty(Directory.GetDirectories(pool.Root));
    }

    /// <summary>A slot is ready once its VMM is spawned; /proc shows its own command line and folder only once it has exec'd.</summary>
    private const string RunningNote = "the slots' VMM processes never showed under the pool's folder";

    private static string Ip(params string[] args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("ip", args) { RedirectStandardOutput = true })!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    /// <summary>Starts the pool, which finds no golden snapshot and has one taken; returns when it is.</summary>
    private async Task TakeGoldenAsync(WarmPool pool)
    {
        pool.Refill();
        await UntilAsync(pool, s => s[0].Waiting is not null || s[0].Ready > 0);
        await _warm.Idle;
        SnapshotStatus golden = Assert.Single(_warm.Store.List());
        Assert.True(golden.Present, $"the golden snapshot was not taken: {golden.LastFailure}");
    }

    private WarmPool Pool(int warm, ITapManager? taps = null, bool network = false)
    {
        var o = new KindlingOptions
        {
            StateDirectory = _dir,
            Host = new HostOptions { Vcpus = 8, MemoryMib = 8192 },
            Pools = [new PoolOptions { Name = "default", Labels = ["kindling"], Vcpus = 1, MemoryMib = 256, Warm = warm }],
            Launcher = new LauncherOptions { Kind = "stub", Network = network, Snapshots = true },
        };
        return new WarmPool(Options.Create(o), _warm, _images, taps ?? new NoTapManager(), _time, _log);
    }
}

/// <summary>A typed <see cref="Forges.GitHub.ListLogger"/>.</summary>
internal sealed class ListLogger<T> : ILogger<T>
{
    private readonly Forges.GitHub.ListLogger _inner = new();

    public IReadOnlyList<string> Messages => _inner.Messages;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        _inner.Log(logLevel, eventId, state, exception, formatter);
}
