using Kindling.Vmm.Devices;
using Kindling.Vmm.Kvm;

namespace Kindling.Vmm.Machine;

/// <summary>
/// An edge interrupt on a GSI of the in-kernel PIC/IOAPIC through KVM_IRQ_LINE: raise then lower, which is what an
/// irqfd does inside the kernel (kvm_set_irq 1, then 0), without needing an eventfd.
/// </summary>
public sealed class IrqLineInterrupt : IInterruptTrigger
{
    private readonly VmFd _vm;
    private long _count;

    public IrqLineInterrupt(VmFd vm, uint gsi)
    {
        _vm = vm;
        Gsi = gsi;
    }

    public uint Gsi { get; }

    /// <summary>How many times the line was pulsed.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Trigger()
    {
        Interlocked.Increment(ref _count);
        _vm.SetIrqLine(Gsi, true);
        _vm.SetIrqLine(Gsi, false);
    }
}
