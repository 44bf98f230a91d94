namespace Kindling.Vmm.Devices.Legacy;

/// <summary>
/// Where the 8250's transmitted bytes go (stdout, a file, a FIFO). A sink that cannot take a byte now refuses it:
/// the UART then keeps LSR.THRE clear so the guest driver waits (back-pressure instead of loss) and retries when
/// <see cref="Writable"/> fires.
/// </summary>
public interface ISerialOutput
{
    /// <summary>Offers one byte; false when the sink is full right now.</summary>
    bool TryWrite(byte value);

    /// <summary>Raised, from any thread, when a sink that refused a byte can take more.</summary>
    event Action? Writable;
}
