namespace Kindling.Vmm.Kvm;

/// <summary>KVM_EXIT_* values of <c>kvm_run.exit_reason</c> and the sub-codes the VMM interprets.</summary>
public static class KvmExitReason
{
    public const uint Unknown = 0;
    public const uint Exception = 1;
    public const uint Io = 2;
    public const uint Hypercall = 3;
    public const uint Debug = 4;
    public const uint Hlt = 5;
    public const uint Mmio = 6;
    public const uint IrqWindowOpen = 7;
    public const uint Shutdown = 8;
    public const uint FailEntry = 9;
    public const uint Intr = 10;
    public const uint InternalError = 17;
    public const uint SystemEvent = 24;

    /// <summary>KVM_INTERNAL_ERROR_EMULATION: the in-kernel emulator could not emulate an instruction.</summary>
    public const uint InternalErrorEmulation = 1;
    /// <summary>KVM_INTERNAL_ERROR_SIMUL_EX: an exception occurred while delivering another.</summary>
    public const uint InternalErrorSimulEx = 2;
    /// <summary>KVM_INTERNAL_ERROR_DELIVERY_EV.</summary>
    public const uint InternalErrorDeliveryEv = 3;
    /// <summary>KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON.</summary>
    public const uint InternalErrorUnexpectedExitReason = 4;

    public const uint SystemEventShutdown = 1;
    public const uint SystemEventReset = 2;
    public const uint SystemEventCrash = 3;
}
