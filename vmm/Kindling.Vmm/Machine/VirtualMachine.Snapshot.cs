using Kindling.Vmm.Boot;
using Kindling.Vmm.Kvm;
using Kindling.Vmm.Memory;
using Kindling.Vmm.Snapshot;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>Snapshot support of the KVM machine: its in-kernel state and RAM out, and a machine built from them.</summary>
public sealed partial class VirtualMachine
{
    /// <summary>
    /// Creates a machine whose RAM is <paramref name="memoryFile"/> mapped copy-on-write (MAP_PRIVATE) at the
    /// snapshot's layout; start it with <see cref="StartRestored"/>, not <see cref="Start"/>.
    /// </summary>
    public static VirtualMachine CreateRestored(VirtualMachineOptions options, ILoggerFactory loggerFactory, string memoryFile, IReadOnlyList<MemoryRegionState> layout, PreparedVm? prepared = null)
    {
        try
        {
            return CreateRestored(options, loggerFactory, memoryFile, layout, () => prepared);
        }
        catch
        {
            prepared?.Dispose();
            throw;
        }
    }

    private static VirtualMachine CreateRestored(VirtualMachineOptions options, ILoggerFactory loggerFactory, string memoryFile, IReadOnlyList<MemoryRegionState> layout, Func<PreparedVm?> prepared)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(layout);
        FileBackedRegion[] regions = [.. layout.Select(r => new FileBackedRegion(new GuestRegion(new GuestAddress(r.GuestAddress), r.Size), r.FileOffset))];

        // Checked before KVM is opened, by the same check that fresh RAM passes: a corrupt layout is a snapshot error.
        GuestMemoryMmap.CheckedLayout(regions.Select(r => r.Region),
            problem => new SnapshotException($"the snapshot's memory layout is invalid: {problem}; the state file is corrupt: take the snapshot again"));
        ulong total = regions.Aggregate(0UL, (sum, r) => sum + r.Region.Size);
        if (total != (ulong)options.MemSizeMib * Mib)
        {
            throw new SnapshotException($"the snapshot's memory layout holds {total >> 20} MiB, its configuration says mem_size_mib {options.MemSizeMib}; the state file is inconsistent");
        }

        return Create(options, loggerFactory, prepared(), () => GuestMemoryMmap.MapPrivateFile(memoryFile, regions));
    }

    /// <summary>Reads the VM's and every vCPU's KVM state (Firecracker's order: the vCPUs, then the VM). Only while paused.</summary>
    public (VmKvmState Vm, VcpuKvmState[] Vcpus) SaveKvmState()
    {
        RequirePaused();
        uint[] msrs = KvmStateSnapshot.MsrsToSave(_kvm.GetMsrIndexList());
        VcpuKvmState[] vcpus = [.. _loop.Vcpus.Select(v => KvmStateSnapshot.SaveVcpu(v, msrs))];
        return (KvmStateSnapshot.SaveVm(_vm), vcpus);
    }

    /// <summary>Writes guest RAM to <paramref name="destination"/> (the memory file). Only while paused.</summary>
    public IReadOnlyList<FileBackedRegion> WriteMemory(Stream destination)
    {
        RequirePaused();
        return _memory.WriteTo(destination);
    }

    /// <summary>
    /// Restores the in-kernel state on a machine from <see cref="CreateRestored"/>: the VM's (PIT, clock, irqchip),
    /// then each vCPU's, after setting its CPUID from the same template as when it was saved, and starts the vCPU
    /// threads, parked when <paramref name="paused"/> (each enters KVM_RUN once with immediate_exit set first).
    /// </summary>
    public void StartRestored(VmKvmState vm, IReadOnlyList<VcpuKvmState> vcpuStates, bool paused)
    {
        ArgumentNullException.ThrowIfNull(vm);
        ArgumentNullException.ThrowIfNull(vcpuStates);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (vcpuStates.Count != _options.VcpuCount)
        {
            throw new SnapshotException($"the snapshot holds {vcpuStates.Count} vCPU(s), its configuration says vcpu_count {_options.VcpuCount}; the state file is inconsistent");
        }

        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("the VM was already started");
        }

        _phases.Mark("devices");
        KvmStateSnapshot.RestoreVm(_vm, vm);
        _phases.Mark("vm state restore");
        LaunchVcpus(vcpu => KvmStateSnapshot.RestoreVcpu(vcpu, vcpuStates[vcpu.Id]), paused);
    }

    private void RequirePaused()
    {
        if (!_loop.AllParked)
        {
            throw new InvalidOperationException("the VM must be paused (every vCPU parked) to read its state");
        }
    }
}
