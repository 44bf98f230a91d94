using Kindling.Runner.Logs;

namespace Kindling.Runner.Launch.Snapshots;

/// <summary>What a pool's warm slots are doing, for the admin page and <c>GET /api/overview</c>.</summary>
/// <param name="Target">The pool's <c>Warm</c>.</param>
/// <param name="Ready">Slots restored and paused, waiting for a job.</param>
/// <param name="Refilling">Slots being restored now.</param>
/// <param name="Taken">Jobs that started from one of this pool's slots since the runner started.</param>
/// <param name="Waiting">Why the pool has no slots now although it wants some (no golden snapshot yet, the host drained or full), or null.</param>
/// <param name="LastError">The last refill that failed, with its time; the next try waits <paramref name="RetryAt"/>.</param>
public sealed record WarmPoolStatus(
    string Pool, int Target, int Ready, int Refilling, int Taken, string? Waiting, string? LastError, DateTimeOffset? LastErrorAt, DateTimeOffset? RetryAt);

/// <summary>
/// One warm slot: a VM of a pool restored from the pool's golden snapshot and left paused, with no MMDS data, in
/// <c>STATE/warm/N/</c> (its overlay copy, serial FIFO, API socket, the VMM's log), on TAP <c>ktwN</c> without an
/// address. A job that takes it adopts all of that: the folder becomes the job's work directory, the TAP gets the
/// job's address and the tenant's rules, the MMDS the job's document, and the VM is resumed.
/// </summary>
public sealed class WarmSlot
{
    internal WarmSlot(string pool, long number, JobWorkspace workspace, GuestNetwork? network)
    {
        Pool = pool;
        Number = number;
        Workspace = workspace;
        Network = network;
        VmId = "kindling-vm-warm" + number.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public string Pool { get; }
    public long Number { get; }

    /// <summary>The VMM's id (its command line carries it, as a job's does): the job keeps it.</summary>
    public string VmId { get; }

    /// <summary>Where the slot's files are: <c>STATE/warm/N/</c> until a job takes it.</summary>
    public JobWorkspace Workspace { get; private set; }

    /// <summary>Its TAP (no address yet), or null when VMs have no network.</summary>
    public GuestNetwork? Network { get; }

    /// <summary>The key of the snapshot it was restored from: a job of another key (a rebuilt image) cannot take it.</summary>
    public SnapshotKey? Key { get; internal set; }

    /// <summary>The VMM's pid (0 until it is spawned).</summary>
    public int Pid { get; internal set; }

    /// <summary>The admitted job this slot is kept for (the scheduler counted the job in the slot's place), or null.</summary>
    internal long? ClaimedBy { get; set; }

    internal IVmHandle? Vm { get; set; }

    /// <summary>The slot's own reader of its serial FIFO, until the job's log pump reads it.</summary>
    internal SerialFifoStream? Serial { get; set; }

    /// <summary>The paused VM (the job resumes it through <see cref="WarmPool.ResumeAsync"/>).</summary>
    public IVmHandle? Handle => Vm;

    /// <summary>
    /// Moves the slot's folder to <paramref name="job"/>'s work directory (which must hold nothing yet: it is
    /// replaced). The VMM keeps its open files and its working directory moves with it, so the reaper's
    /// "processes working under STATE/jobs" finds it there. Returns the overlay's path there.
    /// </summary>
    public string MoveTo(JobWorkspace job)
    {
        if (Directory.Exists(job.Directory))
        {
            Directory.Delete(job.Directory, recursive: true);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(job.Directory)!);
        Directory.Move(Workspace.Directory, job.Directory);
        Workspace = job;
        return Directory.GetFiles(job.Directory, "overlay*").Single();
    }

    /// <summary>The job's network on this slot: the job's addresses on the slot's TAP, with the MAC the snapshot's guest has.</summary>
    public GuestNetwork? NetworkFor(GuestNetwork? job) =>
        job is null || Network is null ? null : job with { TapName = Network.TapName, GuestMac = Network.GuestMac };

    /// <summary>Closes the slot's reader of the serial FIFO (once the job's log pump has its own); safe to repeat.</summary>
    public async ValueTask ReleaseSerialAsync()
    {
        if (Serial is { } serial)
        {
            Serial = null;
            await serial.DisposeAsync();
        }
    }
}
