using Kindling.Vmm.Api;
using Kindling.Vmm.Cli;
using Kindling.Vmm.Config;
using Kindling.Vmm.Mmds;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Tests.Api;

/// <summary>
/// Records what the controller asked for, and refuses what the real backend (<see cref="MicroVmBackend"/>)
/// refuses, with its errors: pause, resume, SendCtrlAltDel and post-boot drive or interface updates are handed to
/// a real backend that was never started (so its refusal, word for word), FlushMetrics is refused until a
/// metrics destination is configured, and a logger or metrics destination in a missing folder is refused, as the real
/// one does. Can be told to refuse the next start.
/// </summary>
internal sealed class FakeVmmBackend : IVmmBackend, IDisposable
{
    // Never started: its stdout sink is only asked for at InstanceStart.
    private readonly MicroVmBackend _real = new(NullLoggerFactory.Instance, TimeProvider.System, "fake", () => throw new InvalidOperationException("the fake never starts its real backend"));
    private bool _metrics;

    public List<string> Calls { get; } = [];

    public VmConfig? StartedWith { get; private set; }

    public string? RefuseStartWith { get; set; }

    /// <summary>
    /// Accepts the operations the real backend refuses (none of them is implemented yet): only for tests of the
    /// controller's own bookkeeping (state, effective config) for the day a backend supports them.
    /// </summary>
    public bool AcceptUnsupported { get; set; }

    /// <summary>A metrics destination exists before start (as --config-file with "metrics" gives the real backend).</summary>
    public bool MetricsConfigured
    {
        get => _metrics;
        set => _metrics = value;
    }

    public void Start(VmConfig config, MmdsDataStore mmds)
    {
        if (RefuseStartWith is not null)
        {
            throw new VmmActionException(RefuseStartWith);
        }

        StartedWith = config;
        _metrics |= config.Metrics is not null;
        Calls.Add("Start");
    }

    public void Pause() => Unsupported("Pause", _real.Pause);

    public void Resume() => Unsupported("Resume", _real.Resume);

    public void SendCtrlAltDel() => Unsupported("SendCtrlAltDel", _real.SendCtrlAltDel);

    /// <summary>The configuration a load returns when <see cref="AcceptUnsupported"/> is set (the restored machine's).</summary>
    public VmConfig LoadedConfig { get; set; } = new();

    public SnapshotLoadRequest? LoadedWith { get; private set; }

    public void CreateSnapshot(SnapshotCreateRequest request, VmConfig config) =>
        Unsupported("CreateSnapshot", () => ((IVmmBackend)_real).CreateSnapshot(request, config));

    public VmConfig LoadSnapshot(SnapshotLoadRequest request, VmConfig current, MmdsDataStore mmds)
    {
        Unsupported("LoadSnapshot", () => ((IVmmBackend)_real).LoadSnapshot(request, current, mmds));
        LoadedWith = request;
        return LoadedConfig;
    }

    public void FlushMetrics()
    {
        if (!_metrics)
        {
            _real.FlushMetrics(); // a real backend without metrics refuses
        }

        Calls.Add("FlushMetrics");
    }

    /// <summary>
    /// As the real backend, refuses a destination it could not open, here a missing folder. The fake checks the path
    /// and opens nothing: the API fuzzer sends it arbitrary paths.
    /// </summary>
    public void ConfigureLogger(LoggerConfig logger)
    {
        if (logger.LogPath is { Length: > 0 } path)
        {
            RefuseMissingFolder("logger.log_path", path);
        }

        Calls.Add("ConfigureLogger");
    }

    /// <summary>As the real backend: refuses a destination in a missing folder, and FlushMetrics works from now on.</summary>
    public void ConfigureMetrics(MetricsConfig metrics)
    {
        RefuseMissingFolder("metrics.metrics_path", metrics.MetricsPath);
        _metrics = true;
        Calls.Add("ConfigureMetrics");
    }

    private static void RefuseMissingFolder(string field, string path)
    {
        string folder = Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
        if (!Directory.Exists(folder))
        {
            throw new VmmActionException($"{field} {path} cannot be opened for writing: the folder {folder} does not exist");
        }
    }

    public void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter) =>
        Unsupported($"UpdateBlockDevice {driveId} {pathOnHost}", () => _real.UpdateBlockDevice(driveId, pathOnHost, rateLimiter));

    public void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx) =>
        Unsupported($"UpdateNetworkRateLimiters {ifaceId} rx={rx?.Bandwidth?.Size} tx={tx?.Bandwidth?.Size}", () => _real.UpdateNetworkRateLimiters(ifaceId, rx, tx));

    public void Dispose() => _real.Dispose();

    private void Unsupported(string call, Action real)
    {
        if (!AcceptUnsupported)
        {
            real();
            throw new InvalidOperationException($"MicroVmBackend accepted {call}: the fake refuses it on the real one's word; update FakeVmmBackend");
        }

        Calls.Add(call);
    }
}
