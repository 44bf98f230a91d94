using Kindling.Vmm.Devices;
using Kindling.Vmm.Interop;

namespace Kindling.Vmm.Machine;

/// <summary>
/// An edge interrupt through KVM_IRQFD: a write to the eventfd raises the GSI inside the kernel, so the device
/// event loop never makes an ioctl to interrupt the guest.
/// </summary>
public sealed class IrqFdInterrupt : IInterruptTrigger, IDisposable
{
    private readonly EventFdHandle _eventFd;

    public IrqFdInterrupt(VirtualMachine machine, uint gsi)
    {
        ArgumentNullException.ThrowIfNull(machine);
        _eventFd = EventFdHandle.Create();
        try
        {
            machine.RegisterIrqFd(_eventFd, gsi);
        }
        catch
        {
            _eventFd.Dispose();
            throw;
        }

        Gsi = gsi;
    }

    public uint Gsi { get; }

    public void Trigger() => _eventFd.Signal();

    public void Dispose() => _eventFd.Dispose();
}
