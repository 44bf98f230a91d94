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
public sealed class MicroVmBackend : IVmmBackend, IDisposable
{
    private readonly ISerialOutput _serial;
    private readonly ILoggerFactory _loggers;
    private readonly TimeProvider _time;
    private readonly MetricsReporter? _metrics;
    private readonly TaskCompletionSource<MicroVm> _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MicroVm? _vm;

    public MicroVmBackend(ISerialOutput serial, ILoggerFactory loggers, TimeProvider time, MetricsReporter? metrics)
    {
        _serial = serial;
        _loggers = loggers;
        _time = time;
        _metrics = metrics;
    }

    /// <summary>Completes when the guest has been started.</summary>
    public Task<MicroVm> Started => _started.Task;

    public void Start(VmConfig config, MmdsDataStore mmds)
    {
        VirtualMachineOptions options;
        try
        {
            options = ConfigMapping.ToOptions(config, _serial);
        }
        catch (CliException e)
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

    public void Dispose() => _vm?.Dispose();
}
