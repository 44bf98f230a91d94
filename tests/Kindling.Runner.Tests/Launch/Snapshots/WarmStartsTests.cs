using System.Text.Json.Nodes;
using Kindling.Images.Guest;
using Kindling.Native;
using Kindling.Runner.Jobs;
using Kindling.Runner.Launch;
using Kindling.Runner.Launch.Snapshots;
using Kindling.Testing;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Runner.Tests.Launch.Snapshots;

/// <summary>
/// Warm starts over the stub launcher, whose snapshots refuse what kindling-vmm refuses: the first job of a kind
/// cold-boots while a golden snapshot is taken of a parked guest; the next restores from it and gets the host's
/// clock; a damaged or refused snapshot falls back to a cold boot, is discarded and taken again.
/// </summary>
public sealed class WarmStartsTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private static readonly DateTimeOffset Now = new(2026, 12, 5, 1, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("kindling-warm-").FullName;
    private readonly PlaceholderImageProvider _images;
    private readonly FakeTimeProvider _time = new(Now);
    private readonly StubVmLauncher _stub = new(TimeSpan.Zero);
    private readonly GoldenSnapshot _golden;
    private readonly WarmStarts _warm;

    public WarmStartsTests()
    {
        _images = new PlaceholderImageProvider(Path.Combine(_dir, "images"));
        var store = new SnapshotStore(Path.Combine(_dir, "images", "snapshots"), _time);
        _golden = new GoldenSnapshot(_stub, _stub, store, _images, new NoTapManager(), Wait);
        _warm = new WarmStarts(_stub, _stub, store, _golden, _time, NullLogger<WarmStarts>.Instance);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _golden.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Launch_NoSnapshotThenOne_FirstColdBootsSecondRestoresWithHostClock()
    {
        (bool restored1, List<string> lines1, SnapshotKey key) = await RunJobAsync(1);
        Assert.False(restored1);
        Assert.Contains("stub guest: booting", lines1);
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        Assert.NotNull(_warm.Store.Find(key, out string? damaged));
        Assert.Null(damaged);

        (bool restored2, List<string> lines2, _) = await RunJobAsync(2);

        Assert.True(restored2);
        Assert.DoesNotContain("stub guest: booting", lines2);
        Assert.Contains($"kindling: generation 1, clock @{Now.ToUnixTimeSeconds()}, rng reseeded from document", lines2);
        Assert.Contains("warm-step-ran", lines2);
        Assert.Equal("##kindling[job-end result=succeeded exit=0]", lines2[^1]);
        SnapshotStatus status = Assert.Single(_warm.Store.List());
        Assert.True(status.Present);
        Assert.Equal(1, status.Uses);
        Assert.Equal(0, status.Failures);
    }

    [Fact]
    public async Task Launch_MemoryFileNotTheSnapshots_ColdBootsDiscardsAndTakesItAgain()
    {
        SnapshotKey key = (await RunJobAsync(1)).Key;
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        SnapshotFiles files = _warm.Store.Find(key, out _)!;
        byte[] memory = File.ReadAllBytes(files.MemoryPath);
        memory[0] ^= 0xff; // same size: only the VMM's load can tell
        File.WriteAllBytes(files.MemoryPath, memory);

        (bool restored, List<string> lines, _) = await RunJobAsync(2);

        Assert.False(restored);
        Assert.Equal("##kindling[job-end result=succeeded exit=0]", lines[^1]);
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        SnapshotStatus status = Assert.Single(_warm.Store.List());
        Assert.Equal(1, status.Failures);
        Assert.Contains("not the memory this state was written with", status.LastFailure, StringComparison.Ordinal);
        Assert.True(status.Present); // taken again
        Assert.True((await RunJobAsync(3)).Restored);
    }

    [Fact]
    public async Task Launch_StateFileTruncated_ColdBootWithoutHandingItToTheVmm()
    {
        SnapshotKey key = (await RunJobAsync(1)).Key;
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        SnapshotFiles files = _warm.Store.Find(key, out _)!;
        File.WriteAllText(files.StatePath, "{");

        Assert.Null(_warm.Store.Find(key, out string? damaged));
        Assert.Contains("state file is 1 bytes", damaged, StringComparison.Ordinal);
        Assert.False((await RunJobAsync(2)).Restored);
    }

    [Fact]
    public async Task Snapshot_GuestNotYetWaiting_Refused()
    {
        var slow = new StubVmLauncher(TimeSpan.Zero, bootDelay: TimeSpan.FromHours(1));
        (VmLaunchRequest request, _) = await RequestAsync(9);
        VmLaunchRequest golden = GoldenSnapshot.Golden(request, request.Workspace, request.VmConfig.Drives[1].PathOnHost!, null, SnapshotKey.For(request.VmConfig));
        using var reader = new FileStream(golden.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Read | FileAccess.Write);
        await using IVmHandle vm = await slow.LaunchAsync(golden, _ => { }, Ct);

        var e = await Assert.ThrowsAsync<VmLaunchException>(() => slow.SnapshotAsync(golden, vm, Path.Combine(_dir, "s"), Path.Combine(_dir, "m"), Ct));

        Assert.Contains("agent-waiting", e.Message, StringComparison.Ordinal);
        await vm.KillAsync();
    }

    [Fact]
    public async Task Restore_OverlayTheSnapshotNamesMissing_Refused()
    {
        SnapshotKey key = (await RunJobAsync(1)).Key;
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        SnapshotFiles files = _warm.Store.Find(key, out _)!;
        (VmLaunchRequest request, _) = await RequestAsync(2);
        File.Delete(files.OverlayPath);

        var e = await Assert.ThrowsAsync<VmLaunchException>(() => _stub.RestoreAsync(request, files, _ => { }, Ct));

        Assert.Contains("drives[overlay]", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DisposeAsync_GoldenBootInFlight_ItsVmKilledAndNothingLeft()
    {
        var slow = new StubVmLauncher(TimeSpan.Zero, bootDelay: TimeSpan.FromHours(1));
        var store = new SnapshotStore(Path.Combine(_dir, "slow-snapshots"), _time);
        using var golden = new GoldenSnapshot(slow, slow, store, _images, new NoTapManager(), TimeSpan.FromHours(2));
        var warm = new WarmStarts(slow, slow, store, golden, _time, NullLogger<WarmStarts>.Instance);
        (VmLaunchRequest request, SnapshotKey key) = await RequestAsync(1);
        using var reader = new FileStream(request.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Read | FileAccess.Write);
        await using IVmHandle vm = await warm.LaunchAsync(request, _ => { }, Ct);
        Assert.Equal(1, warm.TakingCount);

        await warm.DisposeAsync().AsTask().WaitAsync(Wait, Ct);

        Assert.True(warm.Taking(key).IsCompleted);
        // The golden VM's process (its command line carries its VM id) was killed and reaped.
        Assert.DoesNotContain(Directory.EnumerateDirectories("/proc").Select(Path.GetFileName).Where(p => p!.All(char.IsAsciiDigit)),
            p => int.TryParse(p, out int pid) && ProcessInspector.CommandLineContains(pid, "kindling-golden-" + key.Hash));
        Assert.False(Directory.Exists(Path.Combine(store.Root, ".golden-" + key.Hash)));
        Assert.Null(store.Find(key, out _));
        await vm.KillAsync();
    }

    [Fact]
    public async Task Sweep_LeftoversOfAStoppedRunner_RemovedWholeSnapshotKept()
    {
        SnapshotKey key = (await RunJobAsync(1)).Key;
        await _warm.Taking(key).WaitAsync(Wait, Ct);
        string root = _warm.Store.Root;
        Directory.CreateDirectory(Path.Combine(root, ".tmp-half-written"));
        Directory.CreateDirectory(Path.Combine(root, ".golden-abc"));
        string stray = Path.Combine(root, "overlays", "stray.ext4");
        File.WriteAllText(stray, "");

        _warm.Store.Sweep();

        Assert.False(Directory.Exists(Path.Combine(root, ".tmp-half-written")));
        Assert.False(Directory.Exists(Path.Combine(root, ".golden-abc")));
        Assert.False(File.Exists(stray));
        Assert.NotNull(_warm.Store.Find(key, out _));
    }

    [Fact]
    public void Stamp_JobDocument_HostClockAndGenerationReplaced()
    {
        JsonObject mmds = JobDocument.Mmds(MmdsTree.Build(5, "j", TimeSpan.Zero, null, new Dictionary<string, string>(), null, null, now: Now.AddHours(-1)));

        JsonObject stamped = WarmStarts.Stamp(mmds, Now, 42);

        JsonNode host = JobDocument.Parse(stamped["kindling"]!["document"]!.GetValue<string>())["kindling"]!["host"]!;
        Assert.Equal(Now.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), host["clock"]!.GetValue<string>());
        Assert.Equal("42", host["generation"]!.GetValue<string>());
        Assert.Equal(64, host["seed"]!.GetValue<string>().Length);
    }

    private async Task<(VmLaunchRequest Request, SnapshotKey Key)> RequestAsync(long id)
    {
        GuestImages guest = await _images.EnsureImagesAsync(null, Ct);
        var ws = new JobWorkspace(Path.Combine(_dir, "jobs", id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Directory.CreateDirectory(ws.Directory);
        FdIo.MakeFifo(ws.SerialFifoPath);
        string overlay = await _images.CreateOverlayAsync(ws.Directory, Ct);
        var spec = new JobSpec { Name = "j", Steps = [new StepSpec { Name = "s", Run = "echo warm-step-ran" }] };
        var request = new VmLaunchRequest(JobWorkspace.VmId(id), ws, VmConfigBuilder.Build(guest, overlay, 1, 256, ws, null),
            JobDocument.Mmds(MmdsTree.Build(id, "j", TimeSpan.Zero, spec, new Dictionary<string, string>(), null, null, now: Now)));
        return (request, SnapshotKey.For(request.VmConfig));
    }

    private async Task<(bool Restored, List<string> Lines, SnapshotKey Key)> RunJobAsync(long id)
    {
        (VmLaunchRequest request, SnapshotKey key) = await RequestAsync(id);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(Wait);
        await using IVmHandle vm = await _warm.LaunchAsync(request, _ => { }, Ct);
        using var serial = new StreamReader(new FileStream(request.Workspace.SerialFifoPath, FileMode.Open, FileAccess.Read));
        List<string> lines = [];
        while (await serial.ReadLineAsync(timeout.Token) is { } line)
        {
            lines.Add(line);
        }

        await vm.Exited.WaitAsync(timeout.Token);
        return (vm.Restored, lines, key);
    }
}
