namespace Kindling.Vmm.Devices.Legacy;

/// <summary>
/// The i8042 keyboard controller, reduced (as in Firecracker) to its one use in a microVM: the guest resets the
/// machine by writing CMD_RESET_CPU (0xFE) to the command port. Registered at port 0x60 with size 5, so the data
/// port is offset 0 and the command/status port offset 4. Reads of data return 0; status reads say "no output
/// data, keyboard enabled", so the guest's flush loops end.
/// </summary>
public sealed partial class I8042 : IBusDevice
{
    /// <summary>Base port of the device (the data port).</summary>
    public const ulong BasePort = 0x60;

    /// <summary>Ports 0x60..0x64.</summary>
    public const ulong Size = 0x5;

    /// <summary>I8042_DATA_REG offset.</summary>
    public const ulong DataOffset = 0x0;

    /// <summary>I8042_COMMAND_REG / I8042_STATUS_REG offset (port 0x64).</summary>
    public const ulong CommandOffset = 0x4;

    /// <summary>Pulse the CPU reset line.</summary>
    public const byte CmdResetCpu = 0xfe;

    /// <summary>SB_KBD_ENABLED: keyboard not inhibited.</summary>
    public const byte StatusKeyboardEnabled = 0x10;

    private long _resets;

    /// <summary>Raised on the vCPU thread that wrote 0xFE to port 0x64.</summary>
    public event Action? ResetRequested;

    /// <summary>How many reset commands the guest has issued.</summary>
    public long ResetCount => Interlocked.Read(ref _resets);

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        if (offset == CommandOffset && !data.IsEmpty)
        {
            data[0] = StatusKeyboardEnabled;
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset == CommandOffset && data.Length == 1 && data[0] == CmdResetCpu)
        {
            Interlocked.Increment(ref _resets);
            ResetRequested?.Invoke();
        }
    }
}
