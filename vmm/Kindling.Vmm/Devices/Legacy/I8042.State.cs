namespace Kindling.Vmm.Devices.Legacy;

/// <summary>The i8042's snapshot state: Kindling's controller only resets, so all it has is the reset count.</summary>
public sealed record I8042State(long ResetCount);

public sealed partial class I8042
{
    public I8042State SaveState() => new(ResetCount);

    public void RestoreState(I8042State state)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentOutOfRangeException.ThrowIfNegative(state.ResetCount);
        Interlocked.Exchange(ref _resets, state.ResetCount);
    }
}
