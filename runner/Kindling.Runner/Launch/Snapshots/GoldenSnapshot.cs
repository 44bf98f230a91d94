using System.Text;
using System.Text.Json.Nodes;
using Kindling.Runner.Logs;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>
/// Takes the golden snapshot of a key: boots a VM like the job's (same images, kernel command line without the
/// job's <c>ip=</c> but with <c>kindling.park=1</c>, same vCPUs and memory, a TAP of its own when jobs have one,
/// an empty MMDS), reads its serial console until the agent says <c>##kindling[agent-waiting]</c>, then pauses and
/// snapshots it and ends it. The guest holds no job and no secret when it is snapshotted: those arrive per clone.
/// </summary>
/// <remarks>
/// One golden boot at a time on a host (<see cref="_one"/>): it is a whole VM that the scheduler does not count,
/// so it is bounded to one, and it is short (a boot). Its TAP is named <c>kg</c> + the key's hash, so it never
/// collides with a job's (<c>kt</c> + job id).
/// </remarks>
public sealed class GoldenSnapshot(IVmLauncher launcher, ISnapshotLauncher snapshots, SnapshotStore store, IImageProvider images, ITapManager taps, TimeSpan wait) : IDisposable
{
    /// <summary>The line the agent prints when it is parked, waiting for its job document (PROTOCOL.md).</summary>
    public const string AgentWaiting = "##kindling[agent-waiting]";

    private readonly SemaphoreSlim _one = new(1, 1);

    public void Dispose() => _one.Dispose();

    public async Task TakeAsync(SnapshotKey key, VmLaunchRequest like, CancellationToken ct)
    {
        await _one.WaitAsync(ct);
        string dir = Path.Combine(store.Root, $".golden-{key.Hash}");
        GuestNetwork? net = like.VmConfig.NetworkInterfaces.Count > 0 ? GuestNetwork.For(0) with { TapName = "kg" + key.Hash[..10] } : null;
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }

            Directory.CreateDirectory(dir);
            var ws = new JobWorkspace(dir);
            if (net is not null)
            {
                await taps.CreateAsync(net, ct);
            }

            await store.CreateAsync(
                key,
                async overlays =>
                {
                    string made = await images.CreateOverlayAsync(dir, ct);
                    string overlay = Path.Combine(overlays, $"{key.Hash}-{Guid.NewGuid():N}.ext4");
                    File.Move(made, overlay);
                    return overlay;
                },
                async (state, memory, overlay) =>
                {
                    VmLaunchRequest golden = Golden(like, ws, overlay, net, key);
                    await BootParkedAndSnapshotAsync(golden, state, memory, ct);
                });
        }
        finally
        {
            if (net is not null)
            {
                await taps.DeleteAsync(net.TapName, CancellationToken.None);
            }

            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }

            _one.Release();
        }
    }

    /// <summary>The golden VM's request: the job's VM with the golden's own files, TAP and no job.</summary>
    internal static VmLaunchRequest Golden(VmLaunchRequest like, JobWorkspace ws, string overlay, GuestNetwork? net, SnapshotKey key)
    {
        VmConfig c = like.VmConfig;
        VmConfig config = c with
        {
            BootSource = c.BootSource is { } boot ? boot with { BootArgs = $"{SnapshotKey.WithoutJobArgs(boot.BootArgs ?? "")} {StubVmLauncher.ParkArgument}".Trim() } : null,
            Drives = [.. c.Drives.Select(d => d.DriveId == VmConfigBuilder.OverlayDriveId ? d with { PathOnHost = overlay } : d)],
            NetworkInterfaces = net is null ? [] : [.. c.NetworkInterfaces.Select(i => i with { HostDevName = net.TapName, GuestMac = GuestNetwork.SnapshotMac })],
            Serial = c.Serial is null ? null : new SerialConfig { SerialOutPath = ws.SerialFifoPath },
            Logger = c.Logger is null ? null : c.Logger with { LogPath = ws.VmmLogPath },
            Metrics = c.Metrics is null ? null : new MetricsConfig { MetricsPath = ws.MetricsPath },
        };
        return new VmLaunchRequest("kindling-golden-" + key.Hash, ws, config, new JsonObject { [MmdsKeys.Kindling] = new JsonObject() });
    }

    private async Task BootParkedAndSnapshotAsync(VmLaunchRequest golden, string state, string memory, CancellationToken ct)
    {
        FdIo.MakeFifo(golden.Workspace.SerialFifoPath);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(wait);
        await using SerialFifoStream fifo = SerialFifoStream.Open(golden.Workspace.SerialFifoPath);
        var seen = new Queue<string>();
        IVmHandle? vm = null;
        try
        {
            vm = await launcher.LaunchAsync(golden, _ => { }, timeout.Token);
            using var reader = new StreamReader(fifo, Encoding.UTF8);
            while (true)
            {
                Task<string?> next = reader.ReadLineAsync(timeout.Token).AsTask();
                if (await Task.WhenAny(next, vm.Exited) != next && !next.IsCompleted)
                {
                    throw new VmLaunchException($"the golden VM exited with code {vm.Exited.Result} before its agent waited for a job; its last lines: {string.Join(" | ", seen)}");
                }

                string? line = await next;
                if (line is null)
                {
                    throw new VmLaunchException($"the golden VM's console closed before its agent waited for a job; its last lines: {string.Join(" | ", seen)}");
                }

                if (line == AgentWaiting)
                {
                    break;
                }

                seen.Enqueue(line);
                if (seen.Count > 10)
                {
                    seen.Dequeue();
                }
            }

            await snapshots.SnapshotAsync(golden, vm, state, memory, timeout.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new VmLaunchException($"the golden VM's agent did not wait for a job within {wait}; its last lines: {string.Join(" | ", seen)}");
        }
        finally
        {
            if (vm is not null)
            {
                if (!vm.Exited.IsCompleted)
                {
                    await vm.KillAsync();
                }

                await vm.DisposeAsync();
                await launcher.ReleaseAsync(golden.VmId, CancellationToken.None);
            }
        }
    }
}
