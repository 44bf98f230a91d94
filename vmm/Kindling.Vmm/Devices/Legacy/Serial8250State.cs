namespace Kindling.Vmm.Devices.Legacy;

/// <summary>
/// Everything a <see cref="Serial8250"/> holds that the guest can observe: the registers, the bytes received but
/// not yet read, and the transmitted bytes still held for the host sink (so output cut mid-line by a snapshot
/// continues on the restored machine's sink). Host-side counters (dropped bytes) are not guest state.
/// </summary>
public sealed record Serial8250State
{
    public byte InterruptEnable { get; init; }
    public byte LineControl { get; init; }
    public byte ModemControl { get; init; }
    public byte LineStatus { get; init; }
    public byte ModemStatus { get; init; }
    public byte Scratch { get; init; }
    public byte FifoControl { get; init; }
    public ushort BaudDivisor { get; init; }
    public bool ThrEmptyInterruptPending { get; init; }
    public byte[] ReceiveQueue { get; init; } = [];
    public byte[] TransmitHold { get; init; } = [];
}
