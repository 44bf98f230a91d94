namespace Kindling.Vmm.Devices.Virtio;

/// <summary>What is wrong with a virtqueue or one of its chains, as <see cref="Queue"/> found it.</summary>
public enum QueueFault
{
    /// <summary>The size the driver set is not a power of two within the maximum.</summary>
    BadSize,

    /// <summary>A ring's address breaks the spec's alignment.</summary>
    Misaligned,

    /// <summary>A ring lies (partly) outside guest RAM.</summary>
    RingOutsideMemory,

    /// <summary>The available index moved further than the queue size.</summary>
    AvailIndexJump,

    /// <summary>The available ring names a head descriptor beyond the queue size.</summary>
    HeadOutOfRange,

    /// <summary>A chain is longer than the queue size (a loop).</summary>
    ChainTooLong,

    /// <summary>A descriptor's next index is beyond the table.</summary>
    NextOutOfRange,

    /// <summary>An indirect descriptor is malformed (not negotiated, bad length, nested, or chained with NEXT).</summary>
    BadIndirect,

    /// <summary>A buffer lies (partly) outside guest RAM.</summary>
    BufferOutsideMemory,

    /// <summary>Reading or writing a ring failed (guest memory refused the access).</summary>
    RingAccess,
}

/// <summary>A queue fault and the sentence that says where it was, for the guest warning or NEEDS_RESET reason.</summary>
public sealed record QueueError(QueueFault Fault, string Message)
{
    public override string ToString() => Message;
}

/// <summary>
/// Returning a chain to the used ring failed: the rings are unusable and the device needs a reset. Thrown by
/// <see cref="Queue.AddUsed"/> so that no caller can go on as if the chain had been returned.
/// </summary>
public sealed class QueueBrokenException(QueueError error) : Exception(error.Message)
{
    public QueueError Error { get; } = error;
}
