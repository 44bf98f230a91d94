namespace Kindling.Vmm.Kvm;

/// <summary>Why KVM_RUN returned, decoded from kvm_run.</summary>
public enum VcpuExitKind
{
    /// <summary>IN/INS from <see cref="VcpuExit.Address"/> (a port): fill <see cref="VcpuFd.ExitData"/>.</summary>
    IoIn,
    /// <summary>OUT/OUTS to a port; the bytes are in <see cref="VcpuFd.ExitData"/>.</summary>
    IoOut,
    /// <summary>A load from an address that is not RAM: fill <see cref="VcpuFd.ExitData"/>.</summary>
    MmioRead,
    /// <summary>A store to an address that is not RAM; the bytes are in <see cref="VcpuFd.ExitData"/>.</summary>
    MmioWrite,
    Hlt,
    /// <summary>KVM_EXIT_SHUTDOWN: triple fault or similar; the vCPU cannot continue.</summary>
    Shutdown,
    /// <summary>KVM_EXIT_SYSTEM_EVENT (shutdown/reset/crash requested through the in-kernel devices).</summary>
    SystemEvent,
    /// <summary>KVM_EXIT_INTERNAL_ERROR, e.g. an instruction the emulator could not handle.</summary>
    InternalError,
    /// <summary>KVM_EXIT_FAIL_ENTRY: the hardware refused to enter the guest (bad vCPU state).</summary>
    FailEntry,
    /// <summary>KVM_RUN was interrupted by a signal (or immediate_exit): check for a stop request.</summary>
    Intr,
    Unknown,
}

/// <summary>
/// One decoded vCPU exit. A value type so that the hot I/O path allocates nothing; the data bytes of I/O and MMIO
/// exits stay in the kvm_run page (<see cref="VcpuFd.ExitData"/>) until the next KVM_RUN.
/// </summary>
public readonly record struct VcpuExit
{
    public required VcpuExitKind Kind { get; init; }

    /// <summary>The raw kvm_run.exit_reason.</summary>
    public uint ExitReason { get; init; }

    /// <summary>Port number (I/O) or guest-physical address (MMIO).</summary>
    public ulong Address { get; init; }

    /// <summary>Access width in bytes (1, 2, 4 or 8).</summary>
    public int Size { get; init; }

    /// <summary>Repetitions of a string I/O instruction (INS/OUTS); 1 otherwise.</summary>
    public uint Count { get; init; }

    /// <summary>internal.suberror, system_event.type, or fail_entry's hardware reason (truncated) by kind.</summary>
    public uint Code { get; init; }

    /// <summary>fail_entry.hardware_entry_failure_reason, or hw.hardware_exit_reason for unknown exits.</summary>
    public ulong HardwareReason { get; init; }

    /// <summary>internal.data / system_event.data words (ndata of them), for errors only.</summary>
    public IReadOnlyList<ulong> Data { get; init; } = [];

    public VcpuExit()
    {
    }

    public static VcpuExit Interrupted { get; } = new() { Kind = VcpuExitKind.Intr, ExitReason = KvmExitReason.Intr };

    public override string ToString() => Kind switch
    {
        VcpuExitKind.IoIn or VcpuExitKind.IoOut => $"{Kind} port 0x{Address:x} size {Size} count {Count}",
        VcpuExitKind.MmioRead or VcpuExitKind.MmioWrite => $"{Kind} 0x{Address:x} size {Size}",
        VcpuExitKind.InternalError => $"{Kind} suberror {Code} data [{string.Join(' ', Data.Select(d => d.ToString("x16")))}]",
        VcpuExitKind.SystemEvent => $"{Kind} type {Code}",
        VcpuExitKind.FailEntry => $"{Kind} hardware reason 0x{HardwareReason:x}",
        VcpuExitKind.Unknown => $"{Kind} exit reason {ExitReason} hardware reason 0x{HardwareReason:x}",
        _ => Kind.ToString(),
    };
}
