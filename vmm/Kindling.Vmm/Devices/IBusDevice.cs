namespace Kindling.Vmm.Devices;

/// <summary>
/// A device on the port-I/O or MMIO bus. <paramref name="offset"/> is relative to the device's base; the access
/// width is the span length (1, 2, 4 or 8). Called from vCPU threads: implementations keep their own locking and
/// must not block on guest-controlled conditions.
/// </summary>
public interface IBusDevice
{
    void Read(ulong offset, Span<byte> data);

    void Write(ulong offset, ReadOnlySpan<byte> data);
}
