using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Kindling.Vmm.Contract;

namespace Kindling.Runner.Launch;

/// <summary>
/// A simulated VM for tests, benchmarks and crash drills: a real placeholder process (so pids, reaping and
/// leftovers are real; its command line carries the VM id) and a simulated guest agent (<see cref="StubGuest"/>)
/// that reads the MMDS document it was given, runs the job as images/guest/agent.sh does and writes the agent's
/// serial framing into the serial FIFO.
/// </summary>
/// <remarks>
/// <para>
/// Steps run for real, on this host, as the runner's user (<c>sh -e -c</c>, bash with pipefail, or the step's
/// shell), in the job's workspace folder: the stub is for tests and development, never for jobs one does not
/// trust. Secrets reach the steps' environment unmasked, so that tests prove the runner's own masking.
/// </para>
/// <para>
/// What the base image holds: the stub boots the root drive named in vm.json; the files of a stand-in image are
/// the folder beside it, <c>&lt;drive&gt;.d/</c> (<see cref="PlaceholderImageProvider.FilesOf"/>). A drive
/// without one holds nothing the stub can see, so a GitHub job on it fails as it would on an image without the
/// actions runner: the agent's error, <c>job-end result=failed exit=125</c>.
/// </para>
/// </remarks>
/// <param name="jobDuration">How long the guest works before its first step (or the actions runner) starts.</param>
/// <param name="bootDelay">How long the guest takes to boot (before job-start).</param>
public sealed partial class StubVmLauncher(TimeSpan jobDuration, TimeSpan bootDelay = default) : IVmLauncher
{
    private readonly ConcurrentDictionary<string, StubGuest> _guests = new(StringComparer.Ordinal);

    public TimeSpan JobDuration => jobDuration;

    public bool PatchesMmds => true;

    /// <summary>Timestamp (Stopwatch) of the last spawn, for latency benchmarks.</summary>
    public long LastSpawnTimestamp { get; private set; }

    public Task<IVmHandle> LaunchAsync(VmLaunchRequest request, Action<int> onSpawned, CancellationToken ct) =>
        Task.FromResult(Start(request, request.VmConfig, onSpawned, restored: false, paused: false));

    /// <summary>Starts the placeholder VMM and its guest: booted from <paramref name="config"/>, or woken from a snapshot of a parked guest (left paused: until <see cref="ResumeAsync"/>).</summary>
    private IVmHandle Start(VmLaunchRequest request, VmConfig config, Action<int> onSpawned, bool restored, bool paused)
    {
        // Like a real VMM it outlives a crashed runner (the reaper kills it), does not hold the runner's stdio, and
        // is one process (no children a kill of its pid would leave): a shell blocked reading a FIFO it also holds
        // open for writing, which never ends. Its command line carries the VM id ($0).
        // The serial FIFO is pinned first, by a descriptor that only names it: a warm slot's folder is renamed to the
        // job's when a job takes it, possibly before GuestAsync opens the FIFO for writing (the path would then be
        // gone, and the guest would never run).
#pragma warning disable CA2000 // GuestAsync owns it (it closes it once the FIFO is open, or in its finally)
        FileDescriptor serial = FileDescriptor.Open(request.Workspace.SerialFifoPath, Libc.O_PATH);
#pragma warning restore CA2000
        string hold = Path.Combine(request.Workspace.Directory, "stub-vm.fifo");
        FdIo.MakeFifo(hold);
        Process process = DetachedProcess.Start("/bin/sh", ["-c", "exec 3<>\"$1\"; read -r never <&3", request.VmId, hold], request.Workspace.Directory, "/dev/null", "/dev/null");
        LastSpawnTimestamp = Stopwatch.GetTimestamp();
#pragma warning disable CA2000 // the MmdsVmHandle returned below owns it (its DisposeAsync disposes this one)
        var handle = new ProcessVmHandle(process);
#pragma warning restore CA2000
        onSpawned(handle.Pid);
        var guest = new StubGuest(request.Mmds, ImageFiles(config), Path.Combine(request.Workspace.Directory, ImageStoreProvider.WorkspaceFolder),
            jobDuration, bootDelay, handle.Exited)
        {
            Park = config.BootSource?.BootArgs?.Split(' ').Contains(ParkArgument) == true, Restored = restored, Paused = paused,
        };
        _guests[request.VmId] = guest;
        _ = Task.Run(() => GuestAsync(request, serial, handle, guest), CancellationToken.None);
        return new MmdsVmHandle(handle, (patch, _) => guest.PatchMmds(patch));
    }

    /// <summary>
    /// Ends the VM now, mid-job, as a crash would (a VMM killed by the OOM killer, a guest kernel panic): the
    /// running step is killed, the guest writes nothing more (no step-end, no job-end) and the VMM process dies of
    /// SIGKILL. False when no guest of that id is running.
    /// </summary>
    public bool Die(string vmId)
    {
        if (!_guests.TryGetValue(vmId, out StubGuest? guest))
        {
            return false;
        }

        guest.Die();
        return true;
    }

    /// <summary>What the MMDS of the running VM <paramref name="vmId"/> holds now (JSON), or null when none runs.</summary>
    public string? MmdsOf(string vmId) => _guests.TryGetValue(vmId, out StubGuest? guest) ? guest.MmdsText : null;

    /// <summary>Opens for writing the FIFO that <paramref name="pinned"/> names, wherever its folder is now; waits for its reader as open(2) does.</summary>
    private static FileStream OpenPinned(FileDescriptor pinned)
    {
        using (pinned)
        {
            return new FileStream($"/proc/self/fd/{pinned.Number}", FileMode.Open, FileAccess.Write);
        }
    }

    /// <summary>The stand-in image's file tree for the root drive of <paramref name="vmConfig"/>, or null.</summary>
    private static string? ImageFiles(VmConfig vmConfig)
    {
        foreach (DriveConfig drive in vmConfig.Drives)
        {
            if (drive.IsRootDevice && drive.PathOnHost is { } path)
            {
                string files = PlaceholderImageProvider.FilesOf(path);
                return Directory.Exists(files) ? files : null;
            }
        }

        return null;
    }

    private async Task GuestAsync(VmLaunchRequest request, FileDescriptor serial, ProcessVmHandle handle, StubGuest guest)
    {
        bool ended = false;
        try
        {
            // Opening a FIFO for writing waits for its reader (the LogPump), as the VMM's would.
            await using var fifo = OpenPinned(serial);
            await using var w = new StreamWriter(fifo, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
            await guest.RunAsync(w);
            ended = true;
            if (!guest.Died)
            {
                handle.ExitCodeOverride = 0; // the guest "rebooted": the VMM exits 0 whatever the job's result
            }
        }
        catch (IOException)
        {
            // The serial reader went away. A real VMM does not stop for that: it runs until its guest reboots or
            // it is killed, so the placeholder stays up and stopping it is the runner's job (a test can see if not).
        }
        finally
        {
            serial.Dispose();
            _guests.TryRemove(new KeyValuePair<string, StubGuest>(request.VmId, guest));
            guest.Dispose();
        }

        if (ended)
        {
            try
            {
                Process.GetProcessById(handle.Pid).Kill();
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
    }
}
