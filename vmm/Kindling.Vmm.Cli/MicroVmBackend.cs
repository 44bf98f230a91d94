using System.Net;
using Kindling.Vmm.Api;
using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Logging;
using Kindling.Vmm.Machine;
using Kindling.Vmm.Mmds;
using Kindling.Vmm.Mmds.Net;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Cli;

/// <summary>
/// The API controller's view of the real machine: InstanceStart builds a <see cref="MicroVm"/> from the effective
/// configuration, with the metadata service answering on the interfaces that mmds-config names.
/// </summary>
/// <remarks>
/// The serial sink, the metrics reporter and the VMM's log file follow the effective configuration at
/// InstanceStart, whether it came from --config-file or from PUT /serial, /metrics and /logger (the runner's
/// path): sinks opened before (from the config file) are kept, missing ones are opened here. All of them are
/// owned, flushed and closed by this backend.
/// </remarks>
public sealed class MicroVmBackend : IVmmBackend, IDisposable
{
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly string _id;
    private readonly Func<ISerialOutput> _stdout;
    private readonly TaskCompletionSource<MicroVm> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ISerialOutput? _serial;
    private MetricsReporter? _metrics;
    private VmmLoggerProvider? _fileLog;
    private bool _fileLogOwnedByFactory;
    private MicroVm? _vm;

    /// <param name="stdout">The serial sink when no serial_out_path is configured.</param>
    /// <param name="fileLog">The log file already attached to <paramref name="loggers"/> (from the config file), if any.</param>
    public MicroVmBackend(ILoggerFactory loggers, TimeProvider time, string id, Func<ISerialOutput> stdout,
        MetricsReporter? metrics = null, VmmLoggerProvider? fileLog = null)
    {
        _loggers = loggers;
        _time = time;
        _id = id;
        _stdout = stdout;
        _metrics = metrics;
        _fileLog = fileLog;
    }

    /// <summary>Completes when the guest has been started.</summary>
    public Task<MicroVm> Started => _started.Task;

    /// <summary>The metrics reporter, once one is configured.</summary>
    public MetricsReporter? Metrics => _metrics;

    public void Start(VmConfig config, MmdsDataStore mmds)
    {
        VirtualMachineOptions options;
        try
        {
            OpenSinks(config);
            options = ConfigMapping.ToOptions(config, _serial!);
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
            _vm = MicroVm.Create(config, options, _loggers, _time, iface => mmdsIfaces.Contains(iface.IfaceId)
                ? new MmdsNetworkStack(responder, _time, mmdsAddress, _loggers.CreateLogger<MmdsNetworkStack>())
                : null);
            if (_vm.Machine.Fallback is { } fallback)
            {
                // Which instructions the VMM completed for the host's KVM emulator, and how often (issue 11).
                _metrics?.Register("instruction_fallback", () => fallback.Counts);
            }

            _vm.Start();
        }
        catch (Exception e) when (e is not VmmActionException and not OutOfMemoryException)
        {
            _vm?.Dispose();
            _vm = null;
            throw new VmmActionException(e.Message, e); // already names what failed (KVM, kernel, disk, TAP)
        }

        _started.TrySetResult(_vm);
    }

    public void Pause() => throw new VmmActionException("pausing a microVM is not supported yet");

    public void Resume() => throw new VmmActionException("resuming a microVM is not supported yet");

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

    public void UpdateBlockDevice(string driveId, string? pathOnHost, RateLimiterConfig? rateLimiter) =>
        throw new VmmActionException($"drive {driveId}: changing a drive after boot is not supported yet");

    public void UpdateNetworkRateLimiters(string ifaceId, RateLimiterConfig? rx, RateLimiterConfig? tx) =>
        throw new VmmActionException($"network interface {ifaceId}: changing rate limiters after boot is not supported yet");

    public void Dispose()
    {
        _vm?.Dispose();
        _metrics?.Flush();
        (_serial as IDisposable)?.Dispose();
        _metrics?.Dispose();
        if (!_fileLogOwnedByFactory)
        {
            _fileLog?.Dispose();
        }
    }

    private void OpenSinks(VmConfig config)
    {
        if (_fileLog is null && config.Logger is { LogPath.Length: > 0 } logger)
        {
            _fileLog = new VmmLoggerProvider(logger, _id, _time);
            _loggers.AddProvider(_fileLog); // the factory disposes providers added this way
            _fileLogOwnedByFactory = true;
        }

        _serial ??= config.Serial?.SerialOutPath is { Length: > 0 } serialPath ? SerialOutputs.Open(serialPath, _time) : _stdout();
        if (_metrics is null && config.Metrics is { } metrics)
        {
            _metrics = new MetricsReporter(new LineSink(metrics.MetricsPath, _time), _time);
            if (_serial is PipeSerialOutput pipe)
            {
                _metrics.RegisterSerial(pipe.Metrics);
            }

            _metrics.Start();
        }
    }
}
