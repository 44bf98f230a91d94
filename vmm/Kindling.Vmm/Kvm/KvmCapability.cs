namespace Kindling.Vmm.Kvm;

/// <summary>KVM_CAP_* numbers passed to KVM_CHECK_EXTENSION.</summary>
public enum KvmCapability
{
    Irqchip = 0,
    Hlt = 1,
    UserMemory = 3,
    SetTssAddr = 4,
    ExtCpuid = 7,
    Irqfd = 32,
    Pit2 = 33,
    Ioeventfd = 36,
    SetIdentityMapAddr = 37,
    ImmediateExit = 136,
    /// <summary>KVM_CAP_EXIT_ON_EMULATION_FAILURE: emulation failures report the instruction bytes.</summary>
    ExitOnEmulationFailure = 204,
}
