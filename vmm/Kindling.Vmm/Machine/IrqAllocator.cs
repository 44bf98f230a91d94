namespace Kindling.Vmm.Machine;

/// <summary>
/// Hands out the IOAPIC's GSIs left for devices, as Firecracker: 5..23 (0..4 are the legacy PIT, keyboard, cascade,
/// COM2 and COM1).
/// </summary>
public sealed class IrqAllocator
{
    public const uint FirstDeviceGsi = 5;
    public const uint LastDeviceGsi = 23;

    private readonly object _gate = new();
    private uint _next = FirstDeviceGsi;

    public uint Allocate()
    {
        lock (_gate)
        {
            if (_next > LastDeviceGsi)
            {
                throw new InvalidOperationException(
                    $"all device interrupts (GSI {FirstDeviceGsi}..{LastDeviceGsi}) are in use: configure fewer devices");
            }

            return _next++;
        }
    }
}
