using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Tests.Devices.Legacy;

internal sealed class CountingInterrupt : IInterruptTrigger
{
    public int Count { get; private set; }

    public void Trigger() => Count++;
}

/// <summary>A sink that accepts bytes only while <see cref="Open"/> and can raise Writable on demand.</summary>
internal sealed class ControlledSerialOutput : ISerialOutput
{
    public List<byte> Written { get; } = [];

    public bool Open { get; set; } = true;

    public event Action? Writable;

    public bool TryWrite(byte value)
    {
        if (!Open)
        {
            return false;
        }

        Written.Add(value);
        return true;
    }

    public void BecomeWritable()
    {
        Open = true;
        Writable?.Invoke();
    }

    public void RaiseWritable() => Writable?.Invoke();

    public int SubscriberCount => Writable?.GetInvocationList().Length ?? 0;
}
