namespace Kindling.Vmm.Devices;

/// <summary>
/// How a device raises its interrupt line. On KVM this is an irqfd (edge) or KVM_IRQ_LINE; in tests a counter.
/// Devices never see KVM.
/// </summary>
public interface IInterruptTrigger
{
    /// <summary>Signals the interrupt (edge-triggered semantics: one call, one delivery).</summary>
    void Trigger();
}
