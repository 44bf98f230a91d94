using System.Buffers.Binary;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// The virtio-mmio (version 2) transport of one device: feature negotiation, the status state machine with
/// NEEDS_RESET and reset, queue configuration, interrupt status/ACK and config space. Register access comes from
/// vCPU threads; queue notifications are handed to <c>notifySink</c> (the event loop) or, via an ioeventfd, arrive
/// through <see cref="OnQueueNotified"/> on the event loop thread. One lock serializes the device.
/// </summary>
public sealed partial class MmioTransport : IBusDevice
{
    private readonly IVirtioDevice _device;
    private readonly IGuestMemory _memory;
    private readonly Action<int>? _notifySink;
    private readonly ILogger _logger;
    private readonly GuestWarnings _warnings;
    private readonly Queue[] _queues;
    private readonly VirtioInterrupt _interrupt;

    private uint _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _configGeneration;
    private bool _activated;

    /// <param name="device">The device logic.</param>
    /// <param name="memory">Guest RAM.</param>
    /// <param name="trigger">The interrupt line (irqfd on KVM).</param>
    /// <param name="notifySink">
    /// Where a QueueNotify write that arrived over the bus goes (the VM posts it to the event loop); null processes
    /// it inline (tests, or when no event loop exists).
    /// </param>
    /// <param name="logger">Guest misbehaviour is logged here.</param>
    /// <param name="time">The clock of the warning summaries (<see cref="Warnings"/>).</param>
    public MmioTransport(IVirtioDevice device, IGuestMemory memory, IInterruptTrigger trigger, Action<int>? notifySink = null, ILogger? logger = null,
        TimeProvider? time = null)
    {
        _device = device;
        _memory = memory;
        _notifySink = notifySink;
        _logger = logger ?? NullLogger.Instance;
        _warnings = new GuestWarnings(_logger, time);
        _queues = [.. device.QueueMaxSizes.Select(max => new Queue(max))];
        _interrupt = new VirtioInterrupt(trigger, SetNeedsReset);
    }

    /// <summary>Guest misbehaviour at the register level: counted, the first logged, then a summary per interval.</summary>
    public GuestWarnings Warnings => _warnings;

    /// <summary>Serializes register access, queue processing and device callbacks (TAP, sockets, timers).</summary>
    public Lock Gate { get; } = new();

    public IVirtioDevice Device => _device;

    public uint DeviceStatus
    {
        get
        {
            lock (Gate)
            {
                return _status;
            }
        }
    }

    public bool IsActivated
    {
        get
        {
            lock (Gate)
            {
                return _activated;
            }
        }
    }

    public uint InterruptStatus => _interrupt.Status;

    public IReadOnlyList<Queue> Queues => _queues;

    /// <summary>The ioeventfd registrations for this transport mapped at <paramref name="baseAddress"/>.</summary>
    public IReadOnlyList<QueueNotifyRegistration> NotifyRegistrations(ulong baseAddress) =>
        [.. Enumerable.Range(0, _queues.Length).Select(i => new QueueNotifyRegistration(i, baseAddress + VirtioMmio.QueueNotify, (uint)i, sizeof(uint)))];

    /// <summary>The driver notified queue <paramref name="queueIndex"/> (ioeventfd fired, or a bus write). Runs the device.</summary>
    public void OnQueueNotified(int queueIndex)
    {
        lock (Gate)
        {
            if (!_activated || (_status & VirtioSpec.DEVICE_NEEDS_RESET) != 0)
            {
                _warnings.Warn("virtio-mmio device {Type}: notification of queue {Queue} before DRIVER_OK ignored", _device.DeviceType, queueIndex);
                return;
            }

            if ((uint)queueIndex >= (uint)_queues.Length || !_queues[queueIndex].Ready)
            {
                _warnings.Warn("virtio-mmio device {Type}: notification of unknown or unready queue {Queue} ignored", _device.DeviceType, queueIndex);
                return;
            }

            _device.ProcessQueue(queueIndex);
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (Gate)
        {
            if (offset >= VirtioMmio.Config)
            {
                data.Clear();
                _device.ReadConfig(offset - VirtioMmio.Config, data);
                return;
            }

            if (data.Length != sizeof(uint) || offset % sizeof(uint) != 0)
            {
                _warnings.Warn("virtio-mmio: {Width}-byte read at 0x{Offset:x} (registers are 32-bit)", data.Length, offset);
                data.Clear();
                return;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(data, ReadRegister(offset));
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        int notifyQueue = -1;
        lock (Gate)
        {
            if (offset >= VirtioMmio.Config)
            {
                if ((_status & VirtioSpec.DRIVER) != 0)
                {
                    _device.WriteConfig(offset - VirtioMmio.Config, data);
                }

                return;
            }

            if (data.Length != sizeof(uint) || offset % sizeof(uint) != 0)
            {
                _warnings.Warn("virtio-mmio: {Width}-byte write at 0x{Offset:x} (registers are 32-bit)", data.Length, offset);
                return;
            }

            uint value = BinaryPrimitives.ReadUInt32LittleEndian(data);
            if (offset == VirtioMmio.QueueNotify)
            {
                notifyQueue = (int)Math.Min(value, int.MaxValue);
            }
            else
            {
                WriteRegister(offset, value);
            }
        }

        if (notifyQueue >= 0)
        {
            if (_notifySink is null)
            {
                OnQueueNotified(notifyQueue);
            }
            else
            {
                _notifySink(notifyQueue);
            }
        }
    }

    private Queue? SelectedQueue => _queueSel < _queues.Length ? _queues[_queueSel] : null;

    private uint ReadRegister(ulong offset)
    {
        switch (offset)
        {
            case VirtioMmio.MagicValue: return VirtioMmio.MagicValueVirt;
            case VirtioMmio.Version: return VirtioMmio.VersionModern;
            case VirtioMmio.DeviceID: return _device.DeviceType;
            case VirtioMmio.VendorID: return VirtioMmio.KindlingVendorId;
            case VirtioMmio.DeviceFeatures:
                return _deviceFeaturesSel switch
                {
                    0 => (uint)_device.AvailableFeatures,
                    1 => (uint)(_device.AvailableFeatures >> 32),
                    _ => 0,
                };
            case VirtioMmio.QueueNumMax: return SelectedQueue?.MaxSize ?? 0;
            case VirtioMmio.QueueReady: return SelectedQueue is { Ready: true } ? 1u : 0u;
            case VirtioMmio.InterruptStatus: return _interrupt.Status;
            case VirtioMmio.Status: return _status;
            case VirtioMmio.ConfigGeneration: return _configGeneration;
            default:
                _warnings.Warn("virtio-mmio: read of unknown or write-only register 0x{Offset:x}", offset);
                return 0;
        }
    }

    private void WriteRegister(ulong offset, uint value)
    {
        switch (offset)
        {
            case VirtioMmio.DeviceFeaturesSel: _deviceFeaturesSel = value; break;
            case VirtioMmio.DriverFeaturesSel: _driverFeaturesSel = value; break;
            case VirtioMmio.DriverFeatures:
                if (_status != (VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER))
                {
                    _warnings.Warn("virtio-mmio: DriverFeatures written in status 0x{Status:x}, ignored", _status);
                }
                else if (_driverFeaturesSel == 0)
                {
                    _driverFeatures = (_driverFeatures & 0xffff_ffff_0000_0000UL) | value;
                }
                else if (_driverFeaturesSel == 1)
                {
                    _driverFeatures = (_driverFeatures & 0xffff_ffffUL) | ((ulong)value << 32);
                }

                break;
            case VirtioMmio.QueueSel: _queueSel = value; break;
            case VirtioMmio.QueueNum: WithConfigurableQueue(q => q.Size = (ushort)Math.Min(value, ushort.MaxValue), value > ushort.MaxValue); break;
            case VirtioMmio.QueueReady: WithConfigurableQueue(q => q.Ready = value == 1, false); break;
            case VirtioMmio.QueueDescLow: WithConfigurableQueue(q => q.DescTable = Low(q.DescTable, value), false); break;
            case VirtioMmio.QueueDescHigh: WithConfigurableQueue(q => q.DescTable = High(q.DescTable, value), false); break;
            case VirtioMmio.QueueDriverLow: WithConfigurableQueue(q => q.AvailRing = Low(q.AvailRing, value), false); break;
            case VirtioMmio.QueueDriverHigh: WithConfigurableQueue(q => q.AvailRing = High(q.AvailRing, value), false); break;
            case VirtioMmio.QueueDeviceLow: WithConfigurableQueue(q => q.UsedRing = Low(q.UsedRing, value), false); break;
            case VirtioMmio.QueueDeviceHigh: WithConfigurableQueue(q => q.UsedRing = High(q.UsedRing, value), false); break;
            case VirtioMmio.InterruptACK: _interrupt.Acknowledge(value); break;
            case VirtioMmio.Status: WriteStatus(value); break;
            default:
                _warnings.Warn("virtio-mmio: write of unknown or read-only register 0x{Offset:x}", offset);
                break;
        }
    }

    private static GuestAddress Low(GuestAddress a, uint value) => new((a.Value & 0xffff_ffff_0000_0000UL) | value);

    private static GuestAddress High(GuestAddress a, uint value) => new((a.Value & 0xffff_ffffUL) | ((ulong)value << 32));

    private void WithConfigurableQueue(Action<Queue> change, bool badValue)
    {
        // Queue registers may change only after FEATURES_OK, before DRIVER_OK, on a queue that is not ready
        // (virtio 1.2 §4.2.3.2) — except QueueReady itself.
        Queue? q = SelectedQueue;
        bool configurable = (_status & (VirtioSpec.FEATURES_OK | VirtioSpec.DRIVER_OK | VirtioSpec.FAILED)) == VirtioSpec.FEATURES_OK;
        if (q is null || !configurable || badValue)
        {
            _warnings.Warn("virtio-mmio: queue register write ignored (queue {Queue}, status 0x{Status:x})", _queueSel, _status);
            return;
        }

        change(q);
    }

    private void WriteStatus(uint value)
    {
        if (value == 0)
        {
            ResetDevice();
            return;
        }

        if ((value & VirtioSpec.FAILED) != 0)
        {
            _status |= VirtioSpec.FAILED;
            return;
        }

        uint current = _status & ~VirtioSpec.DEVICE_NEEDS_RESET;
        uint keep = _status & VirtioSpec.DEVICE_NEEDS_RESET;
        uint requested = value & ~VirtioSpec.DEVICE_NEEDS_RESET;
        if (requested == current)
        {
            return;
        }

        if ((requested & current) != current)
        {
            _warnings.Warn("virtio-mmio: status 0x{New:x} clears bits of 0x{Old:x}; only 0 resets", value, _status);
            return;
        }

        uint added = requested & ~current;
        switch (added)
        {
            case VirtioSpec.ACKNOWLEDGE when current == 0:
            case VirtioSpec.DRIVER when current == VirtioSpec.ACKNOWLEDGE:
                _status = requested | keep;
                break;
            case VirtioSpec.FEATURES_OK when current == (VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER):
                string? refusal = CheckFeatures();
                if (refusal is null)
                {
                    _status = requested | keep;
                }
                else
                {
                    _warnings.Warn("virtio-mmio device {Type}: FEATURES_OK refused: {Reason}", _device.DeviceType, refusal);
                }

                break;
            case VirtioSpec.DRIVER_OK when current == (VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK):
                _status = requested | keep;
                Activate();
                break;
            default:
                _warnings.Warn("virtio-mmio: invalid status transition 0x{Old:x} -> 0x{New:x} ignored", _status, value);
                break;
        }
    }

    private string? CheckFeatures()
    {
        ulong unknown = _driverFeatures & ~_device.AvailableFeatures;
        if (unknown != 0)
        {
            return $"driver acked features 0x{unknown:x} the device does not offer";
        }

        return (_driverFeatures & VirtioSpec.Bit(VirtioSpec.VIRTIO_F_VERSION_1)) == 0
            ? "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)"
            : null;
    }

    private void Activate()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            Queue q = _queues[i];
            if (!q.Ready)
            {
                continue;
            }

            if (q.Validate(_memory) is { } problem)
            {
                SetNeedsReset($"queue {i}: {problem.Message}");
                return;
            }

            q.EventIdx = (_driverFeatures & VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX)) != 0;
            q.IndirectDesc = (_driverFeatures & VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC)) != 0;
        }

        try
        {
            _device.Activate(new VirtioActivation(_queues, _memory, _driverFeatures, _interrupt, Gate));
            _activated = true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            SetNeedsReset($"activation failed: {e.Message}");
        }
    }

    private void ResetDevice()
    {
        if (_activated)
        {
            _device.Reset();
        }

        _activated = false;
        _status = 0;
        _driverFeatures = 0;
        _deviceFeaturesSel = _driverFeaturesSel = _queueSel = 0;
        _interrupt.Clear();
        foreach (Queue q in _queues)
        {
            q.Reset();
        }
    }

    private void SetNeedsReset(string reason)
    {
        lock (Gate)
        {
            LogNeedsReset(_logger, _device.DeviceType, reason);
            _status |= VirtioSpec.DEVICE_NEEDS_RESET;
            _configGeneration++;
        }

        _interrupt.SignalConfigChange();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "virtio device {Type} needs reset: {Reason}")]
    private static partial void LogNeedsReset(ILogger logger, uint type, string reason);
}
