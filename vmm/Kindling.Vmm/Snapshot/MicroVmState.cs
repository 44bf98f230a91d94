using Kindling.Vmm.Devices.Legacy;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Kvm.Abi;

namespace Kindling.Vmm.Snapshot;

/// <summary>
/// Everything a state file holds (Firecracker's MicrovmState): the machine's configuration, the guest RAM layout in
/// the memory file, the VM-wide KVM state, each vCPU's KVM state and each device's state. Guest RAM itself is in the
/// memory file. MMDS data is not here (only its configuration, inside <see cref="ConfigJson"/>): a restored
/// clone gets its own data by PUT /mmds.
/// </summary>
public sealed record MicroVmState
{
    /// <summary>The VM's configuration (GET /vm/config's JSON): drives per drive_id, TAPs per iface_id, vsock, entropy, MMDS config.</summary>
    public required string ConfigJson { get; init; }

    public required IReadOnlyList<MemoryRegionState> Memory { get; init; }

    public required VmKvmState Vm { get; init; }

    public required IReadOnlyList<VcpuKvmState> Vcpus { get; init; }

    public required Serial8250State Serial { get; init; }

    public required I8042State I8042 { get; init; }

    public required IReadOnlyList<VirtioDeviceState> Virtio { get; init; }
}

/// <summary>One guest RAM region and where its bytes are in the memory file.</summary>
public sealed record MemoryRegionState(ulong GuestAddress, ulong Size, ulong FileOffset);

/// <summary>The VM-wide in-kernel state: both PICs and the IOAPIC (KVM_GET_IRQCHIP), the PIT (KVM_GET_PIT2), kvmclock.</summary>
public sealed record VmKvmState
{
    public required KvmIrqchip PicMaster { get; init; }
    public required KvmIrqchip PicSlave { get; init; }
    public required KvmIrqchip Ioapic { get; init; }
    public required KvmPitState2 Pit { get; init; }
    public required KvmClockData Clock { get; init; }
}

/// <summary>One vCPU's KVM state, in the order it is saved (Firecracker's VcpuState for x86_64).</summary>
public sealed record VcpuKvmState
{
    public required KvmMpState MpState { get; init; }
    public required KvmRegs Regs { get; init; }
    public required KvmSregs Sregs { get; init; }
    public required KvmXsave Xsave { get; init; }
    public required KvmXcrs Xcrs { get; init; }
    public required KvmDebugRegs DebugRegs { get; init; }
    public required KvmLapicState Lapic { get; init; }
    public required uint TscKhz { get; init; }
    public required IReadOnlyList<(uint Index, ulong Value)> Msrs { get; init; }
    public required KvmVcpuEvents Events { get; init; }
}

/// <summary>
/// One virtio-mmio device: what it is (block/net/vsock/rng and its id in the configuration, so the restored machine
/// rebuilds it from that configuration with any per-clone override), where it was mapped, its interrupt, and its
/// transport and queue state.
/// </summary>
public sealed record VirtioDeviceState(string Kind, string Id, ulong MmioBase, uint Gsi, MmioTransportState Transport);
