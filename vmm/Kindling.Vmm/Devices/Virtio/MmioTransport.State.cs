namespace Kindling.Vmm.Devices.Virtio;

public sealed partial class MmioTransport
{
    public MmioTransportState SaveState()
    {
        lock (Gate)
        {
            return new MmioTransportState
            {
                DeviceType = _device.DeviceType,
                Status = _status,
                DeviceFeaturesSel = _deviceFeaturesSel,
                DriverFeaturesSel = _driverFeaturesSel,
                DriverFeatures = _driverFeatures,
                QueueSel = _queueSel,
                ConfigGeneration = _configGeneration,
                Activated = _activated,
                InterruptStatus = _interrupt.Status,
                Queues = [.. _queues.Select(q => q.SaveState())],
            };
        }
    }

    /// <summary>
    /// Restores the registers and queues on this freshly created transport (same device type and queue count) and,
    /// when the device was live, activates the device on the restored queues as DRIVER_OK did (Firecracker's
    /// restore activates a device whose status was DRIVER_OK). Call <see cref="KickQueues"/> on resume, so chains
    /// the driver published while the VM was paused are served. Throws <see cref="ArgumentException"/> for a state
    /// that does not fit this device; the transport is then reset.
    /// </summary>
    public void RestoreState(MmioTransportState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (Gate)
        {
            try
            {
                RestoreLocked(state);
            }
            catch
            {
                ResetDevice();
                throw;
            }
        }
    }

    /// <summary>Runs every ready queue of an activated device once (after a restore, on resume).</summary>
    public void KickQueues()
    {
        for (int i = 0; i < _queues.Length; i++)
        {
            if (IsActivated && _queues[i].Ready)
            {
                OnQueueNotified(i);
            }
        }
    }

    private void RestoreLocked(MmioTransportState state)
    {
        if (state.DeviceType != _device.DeviceType)
        {
            throw new ArgumentException($"virtio-mmio state is for device type {state.DeviceType}, this transport serves {_device.DeviceType}", nameof(state));
        }

        if (state.Queues.Count != _queues.Length)
        {
            throw new ArgumentException($"virtio-mmio state has {state.Queues.Count} queues, device type {_device.DeviceType} has {_queues.Length}", nameof(state));
        }

        if ((state.DriverFeatures & ~_device.AvailableFeatures) != 0)
        {
            throw new ArgumentException($"virtio-mmio state: the driver acked features 0x{state.DriverFeatures & ~_device.AvailableFeatures:x} this device does not offer", nameof(state));
        }

        bool live = (state.Status & VirtioSpec.DRIVER_OK) != 0 && (state.Status & (VirtioSpec.FAILED | VirtioSpec.DEVICE_NEEDS_RESET)) == 0;
        if (state.Activated != live)
        {
            throw new ArgumentException($"virtio-mmio state: activated={state.Activated} contradicts status 0x{state.Status:x}", nameof(state));
        }

        for (int i = 0; i < _queues.Length; i++)
        {
            _queues[i].RestoreState(state.Queues[i], _memory);
        }

        _status = state.Status;
        _deviceFeaturesSel = state.DeviceFeaturesSel;
        _driverFeaturesSel = state.DriverFeaturesSel;
        _driverFeatures = state.DriverFeatures;
        _queueSel = state.QueueSel;
        _configGeneration = state.ConfigGeneration;
        _interrupt.Restore(state.InterruptStatus);
        if (state.Activated)
        {
            _device.Activate(new VirtioActivation(_queues, _memory, _driverFeatures, _interrupt, Gate));
            _activated = true;
        }
    }
}
