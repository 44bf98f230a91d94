using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>What a device did with one chain.</summary>
public enum ChainOutcome
{
    /// <summary>Served: return it to the used ring with the given length.</summary>
    Completed,

    /// <summary>Cannot be served now (rate limited, no backend room): put back and stop processing this queue.</summary>
    Deferred,
}

/// <summary>
/// The one queue loop of the devices: pop chains, hand each valid one to <see cref="HandleChain"/>, complete
/// malformed ones with length 0 (with a log line), mark the device NEEDS_RESET and deactivate it when the rings are
/// unusable, and raise one used-buffer interrupt per batch when the driver wants it. Never lets a guest-caused
/// exception out. A loop that must hold several chains before completing them (net RX's mergeable buffers) uses
/// <see cref="PopChain"/> and <see cref="TryAddUsed"/>, so a broken ring is handled the same way there.
/// </summary>
public abstract class VirtioDeviceBase : IVirtioDevice
{
    private readonly ushort[] _maxSizes;

    protected VirtioDeviceBase(uint deviceType, ulong features, ushort[] queueMaxSizes, IEventLoop? loop, ILogger? logger)
    {
        DeviceType = deviceType;
        AvailableFeatures = features | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_VERSION_1);
        _maxSizes = queueMaxSizes;
        Loop = loop;
        Logger = logger ?? NullLogger.Instance;
        Warnings = new GuestWarnings(Logger, loop?.Time);
    }

    public uint DeviceType { get; }

    public ulong AvailableFeatures { get; }

    public IReadOnlyList<ushort> QueueMaxSizes => _maxSizes;

    /// <summary>Set while activated.</summary>
    protected VirtioActivation? Active { get; private set; }

    protected IEventLoop? Loop { get; }

    protected ILogger Logger { get; }

    /// <summary>Warnings the guest can trigger: counted, the first logged, then a summary per interval.</summary>
    public GuestWarnings Warnings { get; }

    /// <summary>Chains completed with length 0 because they were malformed (for tests and metrics).</summary>
    public long BadChains { get; protected set; }

    public abstract void ReadConfig(ulong offset, Span<byte> data);

    public virtual void WriteConfig(ulong offset, ReadOnlySpan<byte> data) =>
        Warnings.Warn("virtio device {Type}: config write at 0x{Offset:x} ignored", DeviceType, offset);

    public virtual void Activate(VirtioActivation activation) => Active = activation;

    public virtual void Reset() => Active = null;

    public virtual void ProcessQueue(int queueIndex) => RunQueue(queueIndex);

    /// <summary>Serves one valid chain; <paramref name="usedLength"/> is the number of bytes written to it.</summary>
    protected abstract ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength);

    /// <summary>Copies config bytes from <paramref name="config"/> (reads past its end stay zero).</summary>
    protected static void CopyConfig(ReadOnlySpan<byte> config, ulong offset, Span<byte> data)
    {
        if (offset >= (ulong)config.Length)
        {
            return;
        }

        ReadOnlySpan<byte> src = config[(int)offset..];
        src[..Math.Min(src.Length, data.Length)].CopyTo(data);
    }

    /// <summary>
    /// Runs <paramref name="work"/> under the transport lock when activated (for callbacks from timers, the TAP or
    /// sockets), on the event loop when there is one.
    /// </summary>
    protected void RunLocked(Action work)
    {
        void Body()
        {
            VirtioActivation? a = Active;
            if (a is null)
            {
                return;
            }

            lock (a.Gate)
            {
                if (ReferenceEquals(a, Active))
                {
                    work();
                }
            }
        }

        if (Loop is null || Loop.IsLoopThread)
        {
            Body();
        }
        else
        {
            Loop.Post(Body);
        }
    }

    /// <summary>
    /// Called once per <see cref="RunQueue"/> pass after its last chain, however the pass ended (a device that
    /// buffers work across chains finishes it here, before the driver is interrupted).
    /// </summary>
    protected virtual void EndOfBatch(int queueIndex)
    {
    }

    /// <summary>Processes queue <paramref name="queueIndex"/> until it is empty or a chain is deferred.</summary>
    protected void RunQueue(int queueIndex)
    {
        VirtioActivation? a = Active;
        if (a is null || (uint)queueIndex >= (uint)a.Queues.Count)
        {
            return;
        }

        Queue queue = a.Queues[queueIndex];
        if (!queue.Ready)
        {
            return;
        }

        bool used;
        try
        {
            used = ServeChains(a, queue, queueIndex);
        }
        finally
        {
            EndOfBatch(queueIndex);
        }

        if (used && queue.NeedsNotification(a.Memory))
        {
            a.Interrupt.SignalUsedBuffer();
        }
    }

    /// <summary>
    /// Whether queue <paramref name="queueIndex"/> has work for a chain before one is popped (a device that fills
    /// chains from its own backlog, like vsock RX, says no when the backlog is empty and the chains wait).
    /// </summary>
    protected virtual bool HasWork(int queueIndex) => true;

    /// <summary>
    /// Pops the next chain of a queue. A malformed chain is counted and warned about (the caller completes it with
    /// length 0); unusable rings mark the device NEEDS_RESET and deactivate it, whichever device loop found them.
    /// </summary>
    protected PopResult PopChain(VirtioActivation a, Queue queue, int queueIndex, out DescriptorChain chain)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(queue);
        PopResult result = queue.Pop(a.Memory, out chain, out QueueError? error);
        if (result == PopResult.Broken)
        {
            Broken(a, queueIndex, error!);
        }
        else if (result == PopResult.BadChain)
        {
            BadChains++;
            Warnings.Warn("virtio device {Type} queue {Queue}: malformed chain {Head} failed: {Error}", DeviceType, queueIndex, chain.Head, error!.Message);
        }

        return result;
    }

    /// <summary>
    /// Returns chain <paramref name="head"/> to the driver. False when the used ring cannot be written: the device
    /// is then NEEDS_RESET and deactivated, and the caller stops.
    /// </summary>
    protected bool TryAddUsed(VirtioActivation a, Queue queue, int queueIndex, ushort head, uint length)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(queue);
        try
        {
            queue.AddUsed(a.Memory, head, length);
            return true;
        }
        catch (QueueBrokenException e)
        {
            Broken(a, queueIndex, e.Error);
            return false;
        }
    }

    private void Broken(VirtioActivation a, int queueIndex, QueueError error)
    {
        a.Interrupt.NeedsReset($"queue {queueIndex}: {error.Message}");
        if (ReferenceEquals(Active, a))
        {
            Active = null;
        }
    }

    /// <summary>The loop of <see cref="RunQueue"/>; true when chains went to the used ring and the device is still usable.</summary>
    private bool ServeChains(VirtioActivation a, Queue queue, int queueIndex)
    {
        bool used = false;
        while (HasWork(queueIndex))
        {
            PopResult result = PopChain(a, queue, queueIndex, out DescriptorChain chain);
            if (result == PopResult.Empty)
            {
                return used;
            }

            if (result == PopResult.Broken)
            {
                return false;
            }

            uint length = 0;
            if (result == PopResult.Chain)
            {
                ChainOutcome outcome;
                try
                {
                    outcome = HandleChain(queueIndex, a.Memory, chain, out length);
                }
                catch (GuestMemoryException e)
                {
                    BadChains++;
                    Warnings.Warn("virtio device {Type} queue {Queue}: chain {Head} failed: {Error}", DeviceType, queueIndex, chain.Head, e.Message);
                    outcome = ChainOutcome.Completed;
                    length = 0;
                }

                if (outcome == ChainOutcome.Deferred)
                {
                    queue.UndoPop();
                    return used;
                }
            }

            if (!TryAddUsed(a, queue, queueIndex, chain.Head, length))
            {
                return false;
            }

            used = true;
        }

        return used;
    }
}
