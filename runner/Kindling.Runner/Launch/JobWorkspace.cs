using System.Globalization;

namespace Kindling.Runner.Launch;

/// <summary>Where one job's files live: <c>STATE/jobs/ID/</c>.</summary>
public sealed record JobWorkspace(string Directory)
{
    public static JobWorkspace For(string stateDirectory, long jobId) =>
        new(Path.Combine(stateDirectory, "jobs", jobId.ToString(CultureInfo.InvariantCulture)));

    public string VmConfigPath => Path.Combine(Directory, "vm.json");
    public string ApiSocketPath => Path.Combine(Directory, "vmm.sock");
    public string SerialFifoPath => Path.Combine(Directory, "serial.fifo");
    public string LoggerFifoPath => Path.Combine(Directory, "vmm-log.fifo");
    public string MetricsPath => Path.Combine(Directory, "vmm-metrics.json");
    public string VmmLogPath => Path.Combine(Directory, "vmm.log");

    /// <summary>The VMM's own stdout and stderr.</summary>
    public string VmmOutputPath => Path.Combine(Directory, "vmm.out");

    /// <summary>The job log lives outside the work directory: it outlives the VM's files.</summary>
    public static string LogPath(string stateDirectory, long jobId) =>
        Path.Combine(stateDirectory, "logs", jobId.ToString(CultureInfo.InvariantCulture) + ".log");

    /// <summary>The VM's config (no secrets: those go only into MMDS), kept beside the log for the admin page.</summary>
    public static string VmConfigRecordPath(string stateDirectory, long jobId) =>
        Path.Combine(stateDirectory, "logs", jobId.ToString(CultureInfo.InvariantCulture) + ".vm.json");

    public static string VmId(long jobId) => "kindling-vm-" + jobId.ToString(CultureInfo.InvariantCulture);
}
