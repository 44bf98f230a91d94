namespace Kindling.Vmm.Machine;

/// <summary>Why a VM stopped.</summary>
public enum VmExitReason
{
    /// <summary>The guest reset the machine through the i8042 (how a Linux guest reboots or powers off here).</summary>
    GuestReset,
    /// <summary>A vCPU executed HLT with nothing to wake it (only without the in-kernel irqchip).</summary>
    Halted,
    /// <summary>The host asked the VM to stop.</summary>
    Stopped,
    /// <summary>Triple fault, system event, emulation failure, failed entry or a VMM error.</summary>
    Error,
}

/// <summary>The outcome of a VM: a reason, and for errors one line saying what happened.</summary>
public sealed record VmExit(VmExitReason Reason, string? Message = null)
{
    /// <summary>The process exit code for kindling-vmm: 0 for a guest reset, halt or host stop, 1 for errors.</summary>
    public int ExitCode => Reason == VmExitReason.Error ? 1 : 0;

    public override string ToString() => Message is null ? Reason.ToString() : $"{Reason}: {Message}";
}
