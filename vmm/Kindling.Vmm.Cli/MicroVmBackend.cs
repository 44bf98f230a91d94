using System.Net;
using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Logging;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Mmds.Net;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Net;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Cli;

/// <summary>
/// The API controller's view of the real machine: InstanceStart builds a <see cref="MicroVm"/> from the effective
/// configuration, with the metadata service answering on the interfaces that mmds-config names.
/// </summary>
/// <remarks>
/// The VMM's log file and the metrics destination are opened when they are configured (PUT /logger, PUT /metrics,
/// or the config file), as Firecracker does: a path that cannot be opened is refused then, FlushMetrics works
/// before boot, and a later PUT replaces them. The periodic metrics lines start with the guest. The serial sink is
/// opened at InstanceStart from the configuration of that moment; a failed InstanceStart closes what it opened, so
/// the next attempt follows the PUTs made in between. All sinks are owned, flushed and closed by this backend.
/// </remarks>
public sealed partial class MicroVmBackend : IVmmBackend, IDisposable
{
    private readonly TimeProvider _time;
    private readonly string _id;
    private readonly Func<ISerialOutput> _stdout;
    private readonly ILoggerFactory _loggers;
    private readonly SwitchableLoggerProvider? _fileLog;
    private readonly TaskCompletionSource<MicroVm> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ISerialOutput? _serial;
    private MetricsReporter? _metrics;
    private LineSink? _metricsSink;
    private MicroVm? _vm;
    private Task<PreparedVm?>? _prepared;

    /// <param name="stdout">The serial sink when no serial_out_path is configured.</param>
    /// <param name="fileLog">
    /// The switchable provider attached to <paramref name="loggers"/> that <see cref="ConfigureLogger"/> points at
    /// the configured log file; null: the log file cannot be configured.
    /// </param>
    /// <param name="prepared">
    /// The KVM VM being made ahead of InstanceStart (<see cref="PreparedVm.PrepareAhead"/>), taken by the first
    /// InstanceStart or snapshot load; null, or a null result: they create it themselves.
    /// </param>
    public MicroVmBackend(ILoggerFactory loggers, TimeProvider time, string id, Func<ISerialOutput> stdout, SwitchableLoggerProvider? fileLog = null, Task<PreparedVm?>? prepared = null)
    {
        _loggers = loggers;
        _time = time;
        _id = id;
        _stdout = stdout;
        _fileLog = fileLog;
        _prepared = prepared;
    }

    /// <summary>Completes when the guest has been started.</summary>
    public Task<MicroVm> Started => _started.Task;

    /// <summary>The metrics reporter, once one is configured.</summary>
    public MetricsReporter? Metrics => _metrics;

    public void ConfigureLogger(LoggerConfig logger)
    {
        if (_fileLog is null)
        {
            throw new VmmActionException("logger: this VMM was started without a configurable log");
        }

        if (logger.LogPath is not { Length: > 0 })
        {
            _fileLog.Replace(null);
            return;
        }

        VmmLoggerProvider next;
        try
        {
            next = new VmmLoggerProvider(logger, _id, _time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmmActionException($"logger.log_path {logger.LogPath} cannot be opened for writing: {e.Message}", e);
        }

        _fileLog.Replace(next);
    }

    public void ConfigureMetrics(MetricsConfig metrics)
    {
        LineSink sink;
        try
        {
            sink = new LineSink(metrics.MetricsPath, _time);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new VmmActionException($"metrics.metrics_path {metrics.MetricsPath} cannot be opened for writing: {e.Message}", e);
        }

        (MetricsReporter? previous, LineSink? previousSink) = (_metrics, _metricsSink);
        _metrics = new MetricsReporter(sink, _time);
        _metricsSink = sink;
        previous?.Dispose();
        previousSink?.Dispose();
    }

    public void Start(VmConfig config, MmdsDataStore mmds) => Launch(config, mmds, (options, interceptorFor) =>
    {
        MicroVm vm = MicroVm.Create(config, options, _loggers, _time, interceptorFor, TakePrepared());
        try
        {
            vm.Start();
            return vm;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    });

    /// <summary>The VM prepared ahead, once (waiting for it if it is still being made); null when there is none.</summary>
    private PreparedVm? TakePrepared()
    {
        Task<PreparedVm?>? prepared = _prepared;
        _prepared = null;
        return prepared?.GetAwaiter().GetResult();
    }

    /// <summary>Opens the serial sink, builds and starts the machine with <paramref name="build"/>; nothing half-done on failure.</summary>
    private void Launch(VmConfig config, MmdsDataStore mmds, Func<VirtualMachineOptions, Func<NetworkInterfaceConfig, IFrameInterceptor?>, MicroVm> build)
    {
        bool serialOpenedHere = _serial is null;
        try
        {
            StartMachine(config, mmds, build);
        }
        catch
        {
            // Nothing half-done: the next InstanceStart opens the serial sink the configuration names then.
            if (serialOpenedHere)
            {
                (_serial as IDisposable)?.Dispose();
                _serial = null;
            }

            throw;
        }

        _started.TrySetResult(_vm!);
    }

    private void StartMachine(VmConfig config, MmdsDataStore mmds, Func<VirtualMachineOptions, Func<NetworkInterfaceConfig, IFrameInterceptor?>, MicroVm> build)
    {
        VirtualMachineOptions options;
        try
        {
            _serial ??= config.Serial?.SerialOutPath is { Length: > 0 } serialPath ? SerialOutputs.Open(serialPath, _time) : _stdout();
            options = ConfigMapping.ToOptions(config, _serial);
        }
        catch (Exception e) when (e is CliException or IOException or UnauthorizedAccessException)
        {
            throw new VmmActionException(e.Message, e);
        }

        var responder = new MmdsHttpResponder(mmds);
        IPAddress mmdsAddress = config.MmdsConfig?.Ipv4Address is { } ip ? IPAddress.Parse(ip) : MmdsNetworkStack.DefaultAddress;
        var mmdsIfaces = new HashSet<string>(config.MmdsConfig?.NetworkInterfaces ?? [], StringComparer.Ordinal);
        try
        {
            _vm = build(options, iface => mmdsIfaces.Contains(iface.IfaceId)
                ? new MmdsNetworkStack(responder, _time, mmdsAddress, _loggers.CreateLogger<MmdsNetworkStack>())
                : null);
        }
        catch (Exception e) when (e is not VmmActionException and not OutOfMemoryException)
        {
            _vm?.Dispose();
            _vm = null;
            throw new VmmActionException(e.Message, e); // already names what failed (KVM, kernel, disk, TAP)
        }

        if (_metrics is { } metrics)
        {
            if (_serial is PipeSerialOutput pipe)
            {
                metrics.RegisterSerial(pipe.Metrics);
            }

            if (_vm.Machine.Fallback is { } fallback)
            {
                // Which instructions the VMM completed for the host's KVM emulator, and how often (issue 11).
                metrics.Register("instruction_fallback", () => fallback.Counts);
            }

            metrics.Start();
        }
    }

    public void Pause()
    {
        MicroVm vm = _vm ?? throw new VmmActionException("pausing a microVM needs a started microVM");
        try
        {
            vm.Pause();
        }
        catch (TimeoutException e)
        {
            throw new VmmActionException($"pausing the microVM failed: {e.Message}; it is left pausing, send Resumed to continue", e);
        }
    }

    public void Resume() => (_vm ?? throw new VmmActionException("resuming a microVM needs a started microVM")).Resume();

    public void SendCtrlAltDel() =>
        throw new VmmActionException("SendCtrlAltDel is not supported: Kindling's i8042 only resets; have the guest run `reboot -f`");

    public void FlushMetrics()
    {
        if (_metrics is null)
        {
            throw new VmmActionException("FlushMetrics: no metrics destination is configured (PUT /metrics first)");
        }

        _metrics.Flush();
    }

    public void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter)
    {
        if (rateLimiter is not null)
        {
            throw new VmmActionException($"drive {driveId}: changing a drive's rate limiter after boot is not supported yet");
        }

        MicroVm vm = _vm ?? throw new VmmActionException($"drive {driveId}: PATCH /drives needs a started microVM");
        if (pathOnHost is null)
        {
            return;
        }

        try
        {
            vm.ReplaceDrive(driveId, pathOnHost);
        }
        catch (VirtioDeviceException e)
        {
            throw new VmmActionException(e.Message, e);
        }
    }

    public void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx) =>
        throw new VmmActionException($"network interface {ifaceId}: changing rate limiters after boot is not supported yet");

    public void Dispose()
    {
        _vm?.Dispose();
        TakePrepared()?.Dispose();
        _metrics?.Flush();
        (_serial as IDisposable)?.Dispose();
        _metrics?.Dispose();
        _metricsSink?.Dispose();
    }
}
