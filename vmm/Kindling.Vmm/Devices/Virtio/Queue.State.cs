using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Devices.Virtio;

public sealed partial class Queue
{
    public QueueState SaveState() => new()
    {
        MaxSize = MaxSize,
        Size = Size,
        Ready = Ready,
        DescTable = DescTable.Value,
        AvailRing = AvailRing.Value,
        UsedRing = UsedRing.Value,
        EventIdx = EventIdx,
        IndirectDesc = IndirectDesc,
        NextAvail = NextAvail,
        NextUsed = NextUsed,
        SignalledUsed = _signalledUsed,
        SignalledValid = _signalledValid,
    };

    /// <summary>
    /// Restores a queue saved by <see cref="SaveState"/>. The saved maximum must equal this queue's (the same device
    /// model); a ready queue is validated against <paramref name="memory"/>, so rings outside the restored guest RAM
    /// are refused here rather than found by the first notification.
    /// </summary>
    public void RestoreState(QueueState state, IGuestMemory memory)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.MaxSize != MaxSize)
        {
            throw new ArgumentException($"queue state: maximum size {state.MaxSize} does not match this device's {MaxSize}", nameof(state));
        }

        Size = state.Size;
        Ready = state.Ready;
        DescTable = new GuestAddress(state.DescTable);
        AvailRing = new GuestAddress(state.AvailRing);
        UsedRing = new GuestAddress(state.UsedRing);
        EventIdx = state.EventIdx;
        IndirectDesc = state.IndirectDesc;
        NextAvail = state.NextAvail;
        NextUsed = state.NextUsed;
        _signalledUsed = state.SignalledUsed;
        _signalledValid = state.SignalledValid;
        if (Ready && Validate(memory) is { } problem)
        {
            Reset();
            throw new ArgumentException($"queue state: {problem.Message}", nameof(state));
        }
    }
}
