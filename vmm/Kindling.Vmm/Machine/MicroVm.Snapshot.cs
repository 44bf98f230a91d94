using Kindling.Vmm.Config;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Devices.Virtio.Net;
using Kindling.Vmm.Devices.Virtio.Vsock;
using Kindling.Vmm.Snapshot;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Pause, resume, snapshot and restore of a whole microVM (Firecracker's persist.rs). A snapshot is taken on the
/// device loop's thread, so no device touches guest RAM or a queue while its state and the RAM are written; the
/// vCPUs are parked (paused) before.
/// </summary>
public sealed partial class MicroVm
{
    /// <summary>How long a pause waits for the vCPUs to leave the guest.</summary>
    public static readonly TimeSpan PauseTimeout = TimeSpan.FromSeconds(10);

    private readonly List<AttachedDevice> _virtio = [];

    public void Pause() => Machine.Pause(PauseTimeout);

    /// <summary>Resumes the vCPUs and runs every queue once, so chains published while paused are served.</summary>
    public void Resume()
    {
        Machine.Resume();
        DeviceLoop.Post(() => _virtio.ForEach(d => d.Transport.KickQueues()));
    }

    /// <summary>
    /// Writes the memory file (renamed into place) and then the state file of this paused VM. <paramref name="configJson"/>
    /// is its configuration, stored so that a load rebuilds the same devices.
    /// </summary>
    public void CreateSnapshot(string statePath, string memoryPath, string configJson)
    {
        DeviceLoop.Invoke(() =>
        {
            (VmKvmState vm, VcpuKvmState[] vcpus) = Machine.SaveKvmState();
            IReadOnlyList<Memory.FileBackedRegion> layout = WriteMemoryFile(memoryPath);
            var state = new MicroVmState
            {
                ConfigJson = configJson,
                Memory = [.. layout.Select(r => new MemoryRegionState(r.Region.Start.Value, r.Region.Size, r.FileOffset))],
                Vm = vm,
                Vcpus = vcpus,
                Serial = Machine.Serial.SaveState(),
                I8042 = Machine.I8042.SaveState(),
                Virtio = [.. _virtio.Select(d => new VirtioDeviceState(d.Kind, d.Id, d.Slot, d.Gsi, d.Transport.SaveState()))],
            };
            SnapshotFile.Write(statePath, SnapshotFile.Encode(HostCpu.Origin(Machine.Options.CpuTemplate.ToString()), MicroVmStateCodec.Encode(state)));
        });
    }

    /// <summary>
    /// Builds a microVM from a decoded snapshot: RAM mapped copy-on-write from <paramref name="memoryPath"/>, the
    /// devices of <paramref name="config"/> (the snapshot's configuration with this clone's overrides: TAPs, drive
    /// files) on the slots and GSIs they had, their state restored, vsock connections reset, and the vCPUs started
    /// paused unless <paramref name="resume"/>.
    /// </summary>
    public static MicroVm Restore(
        MicroVmState state,
        string memoryPath,
        bool resume,
        VmConfig config,
        VirtualMachineOptions options,
        ILoggerFactory loggers,
        TimeProvider time,
        Func<NetworkInterfaceConfig, IFrameInterceptor?>? interceptorFor = null,
        PreparedVm? prepared = null)
    {
        ArgumentNullException.ThrowIfNull(state);
        MicroVm vm = Build(VirtualMachine.CreateRestored(options, loggers, memoryPath, state.Memory, prepared), config, loggers, time, interceptorFor);
        try
        {
            vm.RestoreDevices(state);
            vm.Machine.StartRestored(state.Vm, state.Vcpus, paused: !resume);
            if (resume)
            {
                vm.DeviceLoop.Post(() => vm._virtio.ForEach(d => d.Transport.KickQueues()));
            }

            return vm;
        }
        catch
        {
            vm.Dispose();
            throw;
        }
    }

    private void RestoreDevices(MicroVmState state)
    {
        if (state.Virtio.Count != _virtio.Count)
        {
            throw new SnapshotException($"the snapshot has {state.Virtio.Count} virtio device(s), its configuration builds {_virtio.Count}; the state file is inconsistent");
        }

        for (int i = 0; i < _virtio.Count; i++)
        {
            AttachedDevice d = _virtio[i];
            VirtioDeviceState saved = state.Virtio[i];
            if (saved.Kind != d.Kind || saved.Id != d.Id || saved.MmioBase != d.Slot || saved.Gsi != d.Gsi)
            {
                throw new SnapshotException(
                    $"virtio device {i} of the snapshot is {saved.Kind} {saved.Id} at 0x{saved.MmioBase:x} GSI {saved.Gsi}; rebuilt it is {d.Kind} {d.Id} at 0x{d.Slot:x} GSI {d.Gsi}: the state file is inconsistent");
            }

            try
            {
                d.Transport.RestoreState(saved.Transport);
            }
            catch (ArgumentException e)
            {
                throw new SnapshotException($"{d.Kind} {d.Id}: {e.Message}", e);
            }

            if (d.Device is VirtioVsock vsock && d.Transport.IsActivated)
            {
                lock (d.Transport.Gate)
                {
                    vsock.SendTransportReset();
                }
            }
        }

        try
        {
            Machine.Serial.RestoreState(state.Serial);
            Machine.I8042.RestoreState(state.I8042);
        }
        catch (ArgumentException e)
        {
            throw new SnapshotException($"legacy devices: {e.Message}", e);
        }
    }

    private IReadOnlyList<Memory.FileBackedRegion> WriteMemoryFile(string memoryPath) =>
        AtomicFile.Write(memoryPath, "mem_file_path", Machine.WriteMemory, bufferSize: 1 << 20);

    private sealed record AttachedDevice(string Kind, string Id, ulong Slot, uint Gsi, MmioTransport Transport, IVirtioDevice Device);
}
