namespace Kindling.Vmm.Devices.Virtio;

/// <summary>What <see cref="Queue.Pop"/> found.</summary>
public enum PopResult
{
    /// <summary>No new chain is available.</summary>
    Empty,

    /// <summary>A valid chain was parsed into the queue's <see cref="DescriptorChain"/>.</summary>
    Chain,

    /// <summary>
    /// The chain at the head is malformed (loop, out-of-RAM buffer, bad indirect table). Its head index is valid,
    /// so the device completes it with used length 0 and goes on: only that request fails.
    /// </summary>
    BadChain,

    /// <summary>The rings themselves are unusable (avail index jumped, head index out of range): the device needs a reset.</summary>
    Broken,
}
