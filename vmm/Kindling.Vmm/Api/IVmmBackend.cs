using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;

namespace Kindling.Vmm.Api;

/// <summary>
/// What the controller asks of the running machine. The integrator implements it over the real VirtualMachine;
/// tests use a fake. Every method runs on the VMM loop; a refusal throws <see cref="VmmActionException"/> with a
/// message for the API client (the controller's state is then left unchanged).
/// </summary>
public interface IVmmBackend
{
    /// <summary>Builds and boots the machine from the validated configuration; the MMDS store is shared with the net devices.</summary>
    void Start(VmConfig config, MmdsDataStore mmds);

    void Pause();

    void Resume();

    /// <summary>Injects Ctrl+Alt+Del through the i8042.</summary>
    void SendCtrlAltDel();

    /// <summary>Writes one metrics line now (pre- or post-boot, once a metrics destination is configured).</summary>
    void FlushMetrics();

    /// <summary>
    /// Pre-boot PUT /logger: the VMM's log goes to <paramref name="logger"/>'s log_path from now on (Firecracker
    /// initialises its logger at once); a later PUT replaces it. Refuses a destination it cannot open.
    /// </summary>
    void ConfigureLogger(LoggerConfig logger)
    {
    }

    /// <summary>
    /// Pre-boot PUT /metrics: opens the metrics destination now, so FlushMetrics works before boot; the periodic
    /// lines start with the guest. A later PUT replaces it. Refuses a destination it cannot open.
    /// </summary>
    void ConfigureMetrics(MetricsConfig metrics)
    {
    }

    /// <summary>Post-boot: swaps the backing file and/or the rate limiter of a drive.</summary>
    void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter);

    /// <summary>Post-boot: replaces the rate limiters of a network interface (null: leave that direction as it is).</summary>
    void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx);

    /// <summary>
    /// PUT /snapshot/create on a paused machine: writes its state file and memory file. <paramref name="config"/> is
    /// the effective configuration, stored in the state file so a load rebuilds the same devices.
    /// </summary>
    void CreateSnapshot(SnapshotCreateRequest request, VmConfig config) =>
        throw new VmmActionException("snapshot/create is not supported by this kindling-vmm backend");

    /// <summary>
    /// PUT /snapshot/load on a fresh VMM: builds the machine from the state file, maps the memory file copy-on-write,
    /// applies the network overrides, and resumes it when asked. The serial, logger and metrics sections come from
    /// <paramref name="current"/> (this VMM's, not the snapshotted one's). Returns the restored machine's configuration.
    /// </summary>
    VmConfig LoadSnapshot(SnapshotLoadRequest request, VmConfig current, MmdsDataStore mmds) =>
        throw new VmmActionException("snapshot/load is not supported by this kindling-vmm backend");
}
