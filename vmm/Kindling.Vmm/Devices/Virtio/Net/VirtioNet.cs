using System.Buffers.Binary;
using Kindling.Vmm.Interop;
using Kindling.Vmm.Memory;
using Kindling.Vmm.RateLimiting;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Net;

/// <summary>
/// virtio-net (virtio 1.2 §5.1) over a host TAP: queue 0 receives (TAP → guest), queue 1 transmits (guest →
/// TAP). Frames carry the 12-byte virtio_net_hdr_v1 on both sides, so checksum/segmentation offloads pass
/// through as negotiated (TUNSETOFFLOAD follows the guest's GUEST_* features). Mergeable RX buffers, MAC, rx/tx
/// rate limiters, and an <see cref="IFrameInterceptor"/> that sees transmitted frames first and whose frames
/// reach the guest ahead of TAP traffic.
/// </summary>
public sealed class VirtioNet : VirtioDeviceBase, IDisposable
{
    public const int VIRTIO_NET_F_CSUM = 0;
    public const int VIRTIO_NET_F_GUEST_CSUM = 1;
    public const int VIRTIO_NET_F_MAC = 5;
    public const int VIRTIO_NET_F_GUEST_TSO4 = 7;
    public const int VIRTIO_NET_F_GUEST_TSO6 = 8;
    public const int VIRTIO_NET_F_GUEST_UFO = 10;
    public const int VIRTIO_NET_F_HOST_TSO4 = 11;
    public const int VIRTIO_NET_F_HOST_TSO6 = 12;
    public const int VIRTIO_NET_F_HOST_UFO = 14;
    public const int VIRTIO_NET_F_MRG_RXBUF = 15;

    public const int RxQueue = 0;
    public const int TxQueue = 1;
    public const ushort QueueSize = 256;

    /// <summary>The largest frame with header: 64 KiB GSO payload plus headers.</summary>
    public const int MaxFrame = 65562;

    private readonly ITapDevice _tap;
    private readonly IFrameInterceptor? _interceptor;
    private readonly RateLimiter? _rxLimiter;
    private readonly RateLimiter? _txLimiter;
    private readonly byte[] _config = new byte[8];
    /// <summary>
    /// Transmitted frames, copied out of guest RAM during a queue pass and written to the TAP together at its end
    /// (or when this fills): the pass's parsing and copying run back to back, not between write(2)s that leave
    /// the CPU's caches and TLB cold for them each time. Holds at least one largest frame.
    /// </summary>
    private readonly byte[] _txArena = new byte[2 * MaxFrame];
    private readonly (int Offset, int Length)[] _txPending = new (int, int)[QueueSize];
    private int _txCount;
    private int _txArenaUsed;
    private readonly byte[] _rxFrame = new byte[MaxFrame];
    private readonly (ushort Head, uint Length)[] _rxUsed = new (ushort, uint)[QueueSize];
    private int _rxPending; // bytes of a frame waiting for RX buffers (0: none)
    private bool _mergeable;
    private IEventRegistration? _tapRegistration;

    public VirtioNet(string ifaceId, ITapDevice tap, byte[]? guestMac = null, RateLimiter? rxLimiter = null, RateLimiter? txLimiter = null,
        IFrameInterceptor? interceptor = null, IEventLoop? loop = null, ILogger? logger = null)
        : base(VirtioSpec.VIRTIO_ID_NET, Features(guestMac is not null), [QueueSize, QueueSize], loop, logger)
    {
        IfaceId = ifaceId;
        _tap = tap;
        _interceptor = interceptor;
        _rxLimiter = rxLimiter is { IsUnlimited: false } ? rxLimiter : null;
        _txLimiter = txLimiter is { IsUnlimited: false } ? txLimiter : null;
        if (guestMac is not null)
        {
            if (guestMac.Length != 6)
            {
                throw new VirtioDeviceException($"network interface '{ifaceId}': guest_mac must be 6 bytes");
            }

            guestMac.CopyTo(_config, 0);
        }

        if (_rxLimiter is not null)
        {
            _rxLimiter.Unblocked += () => RunLocked(ProcessRx);
        }

        if (_txLimiter is not null)
        {
            _txLimiter.Unblocked += () => RunLocked(() => RunQueue(TxQueue));
        }

        if (_interceptor is not null)
        {
            _interceptor.FramesPending += () => RunLocked(ProcessRx);
        }
    }

    public string IfaceId { get; }

    /// <summary>Frames dropped (TAP full, or too big for a non-mergeable RX buffer).</summary>
    public long DroppedFrames { get; private set; }

    /// <summary>Parses "aa:bb:cc:dd:ee:ff" (guest_mac).</summary>
    public static byte[] ParseMac(string ifaceId, string mac)
    {
        string[] parts = mac.Split(':');
        byte[] bytes = new byte[6];
        if (parts.Length != 6 || !parts.Select((p, i) => byte.TryParse(p, System.Globalization.NumberStyles.HexNumber, null, out bytes[i]) && p.Length == 2).All(ok => ok))
        {
            throw new VirtioDeviceException($"network interface '{ifaceId}': guest_mac '{mac}' is not of the form aa:bb:cc:dd:ee:ff");
        }

        return bytes;
    }

    private static ulong Features(bool mac) =>
        VirtioSpec.Bit(VIRTIO_NET_F_CSUM) | VirtioSpec.Bit(VIRTIO_NET_F_GUEST_CSUM) |
        VirtioSpec.Bit(VIRTIO_NET_F_GUEST_TSO4) | VirtioSpec.Bit(VIRTIO_NET_F_GUEST_TSO6) | VirtioSpec.Bit(VIRTIO_NET_F_GUEST_UFO) |
        VirtioSpec.Bit(VIRTIO_NET_F_HOST_TSO4) | VirtioSpec.Bit(VIRTIO_NET_F_HOST_TSO6) | VirtioSpec.Bit(VIRTIO_NET_F_HOST_UFO) |
        VirtioSpec.Bit(VIRTIO_NET_F_MRG_RXBUF) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC) |
        (mac ? VirtioSpec.Bit(VIRTIO_NET_F_MAC) : 0);

    /// <summary>The TUN_F_* offloads matching the guest's accepted features.</summary>
    public static uint TapOffloads(ulong acked)
    {
        bool Has(int bit) => (acked & VirtioSpec.Bit(bit)) != 0;
        if (!Has(VIRTIO_NET_F_GUEST_CSUM))
        {
            return 0;
        }

        uint flags = LibcTun.TUN_F_CSUM;
        flags |= Has(VIRTIO_NET_F_GUEST_TSO4) ? LibcTun.TUN_F_TSO4 : 0;
        flags |= Has(VIRTIO_NET_F_GUEST_TSO6) ? LibcTun.TUN_F_TSO6 : 0;
        flags |= Has(VIRTIO_NET_F_GUEST_UFO) ? LibcTun.TUN_F_UFO : 0;
        return flags;
    }

    public override void ReadConfig(ulong offset, Span<byte> data) => CopyConfig(_config, offset, data);

    public override void Activate(VirtioActivation activation)
    {
        base.Activate(activation);
        _mergeable = activation.HasFeature(VIRTIO_NET_F_MRG_RXBUF);
        _tap.SetOffload(TapOffloads(activation.AckedFeatures));
        if (Loop is not null && _tapRegistration is null)
        {
            _tapRegistration = Loop.Register(_tap.Handle, Epoll.EPOLLIN | Epoll.EPOLLET, _ => RunLocked(ProcessRx));
        }
    }

    public override void Reset()
    {
        _tapRegistration?.Dispose();
        _tapRegistration = null;
        _rxPending = 0;
        base.Reset();
    }

    public override void ProcessQueue(int queueIndex)
    {
        if (queueIndex == RxQueue)
        {
            ProcessRx();
        }
        else
        {
            RunQueue(queueIndex);
        }
    }

    /// <summary>The TAP became readable (called by the event loop; tests call it directly).</summary>
    public void OnTapReadable() => RunLocked(ProcessRx);

    public void Dispose()
    {
        _tapRegistration?.Dispose();
        _rxLimiter?.Dispose();
        _txLimiter?.Dispose();
        _tap.Dispose();
    }

    protected override ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        if (queueIndex != TxQueue)
        {
            return ChainOutcome.Completed;
        }

        if (chain.WritableLength != 0 || chain.ReadableLength < VirtioNetHeader.Size || chain.ReadableLength > MaxFrame)
        {
            Warnings.Warn("virtio-net '{Iface}': TX chain {Head} malformed ({Len} bytes); dropped", IfaceId, chain.Head, chain.ReadableLength);
            return ChainOutcome.Completed;
        }

        int length = (int)chain.ReadableLength;
        if (_txLimiter is not null)
        {
            if (!_txLimiter.Consume(1, TokenType.Ops))
            {
                return ChainOutcome.Deferred;
            }

            if (!_txLimiter.Consume(length, TokenType.Bytes))
            {
                _txLimiter.ManualReplenish(1, TokenType.Ops);
                return ChainOutcome.Deferred;
            }
        }

        if (_txArenaUsed + length > _txArena.Length || _txCount == _txPending.Length)
        {
            FlushTx();
        }

        Span<byte> frame = _txArena.AsSpan(_txArenaUsed, length);
        chain.Gather(memory, frame);

        if (_interceptor is not null && InterceptTx(frame))
        {
            // The interceptor may have answered at once.
            if (_interceptor.HasPendingFrames)
            {
                ProcessRx();
            }

            return ChainOutcome.Completed;
        }

        _txPending[_txCount++] = (_txArenaUsed, length);
        _txArenaUsed += length;
        return ChainOutcome.Completed;
    }

    protected override void EndOfBatch(int queueIndex)
    {
        if (queueIndex == TxQueue)
        {
            FlushTx();
        }
    }

    /// <summary>Writes the frames gathered in the arena to the TAP, in the order the guest sent them.</summary>
    private void FlushTx()
    {
        try
        {
            for (int i = 0; i < _txCount; i++)
            {
                (int offset, int length) = _txPending[i];
                if (!_tap.Write(_txArena.AsSpan(offset, length)))
                {
                    DroppedFrames++;
                }
            }
        }
        finally
        {
            _txCount = 0;
            _txArenaUsed = 0;
        }
    }

    /// <summary>
    /// Offers a transmitted frame to the interceptor with its checksum finished (the TAP would have done that; the
    /// interceptor sees wire frames). GSO frames are never the interceptor's: the metadata service's requests are small.
    /// </summary>
    private bool InterceptTx(ReadOnlySpan<byte> frameWithHeader)
    {
        VirtioNetHeader header = System.Runtime.InteropServices.MemoryMarshal.Read<VirtioNetHeader>(frameWithHeader);
        if (header.GsoType != VirtioNetHeader.GsoNone)
        {
            return false;
        }

        ReadOnlySpan<byte> frame = frameWithHeader[VirtioNetHeader.Size..];
        if ((header.Flags & VirtioNetChecksum.FlagNeedsCsum) == 0)
        {
            return _interceptor!.TryIntercept(frame);
        }

        // A copy: when the interceptor declines the frame, the TAP gets it unchanged, header and all.
        byte[] finished = frame.ToArray();
        return VirtioNetChecksum.Complete(header, finished) && _interceptor!.TryIntercept(finished);
    }

    private void ProcessRx()
    {
        VirtioActivation? a = Active;
        if (a is null || !a.Queues[RxQueue].Ready)
        {
            return;
        }

        bool used = false;
        while (true)
        {
            if (_rxPending == 0 && !NextFrame())
            {
                break;
            }

            if (_rxLimiter is not null)
            {
                if (!_rxLimiter.Consume(1, TokenType.Ops))
                {
                    break;
                }

                if (!_rxLimiter.Consume(_rxPending, TokenType.Bytes))
                {
                    _rxLimiter.ManualReplenish(1, TokenType.Ops);
                    break;
                }
            }

            DeliverResult r = Deliver(a);
            if (r == DeliverResult.NoBuffers)
            {
                _rxLimiter?.ManualReplenish(1, TokenType.Ops);
                _rxLimiter?.ManualReplenish(_rxPending, TokenType.Bytes);
                break;
            }

            if (r == DeliverResult.Broken)
            {
                return;
            }

            used |= r == DeliverResult.Delivered;
            _rxPending = 0;
        }

        if (used && a.Queues[RxQueue].NeedsNotification(a.Memory))
        {
            a.Interrupt.SignalUsedBuffer();
        }
    }

    /// <summary>Loads the next frame for the guest into the RX buffer: interceptor frames first, then the TAP.</summary>
    private bool NextFrame()
    {
        if (_interceptor is { HasPendingFrames: true } &&
            _interceptor.TryDequeue(_rxFrame.AsSpan(VirtioNetHeader.Size), out int length))
        {
            _rxFrame.AsSpan(0, VirtioNetHeader.Size).Clear();
            _rxPending = VirtioNetHeader.Size + length;
            return true;
        }

        int n = _tap.Read(_rxFrame);
        if (n <= VirtioNetHeader.Size)
        {
            return false;
        }

        _rxPending = n;
        return true;
    }

    private enum DeliverResult
    {
        Delivered,
        Dropped,
        NoBuffers,
        Broken,
    }

    private DeliverResult Deliver(VirtioActivation a)
    {
        Queue queue = a.Queues[RxQueue];
        IGuestMemory memory = a.Memory;
        int copied = 0;
        int chains = 0;
        GuestAddress headerAddress = default;
        bool headerInFirst = false;
        while (copied < _rxPending)
        {
            PopResult result = PopChain(a, queue, RxQueue, out DescriptorChain chain);
            if (result == PopResult.Empty)
            {
                queue.UndoPop(chains);
                return DeliverResult.NoBuffers;
            }

            if (result == PopResult.Broken)
            {
                return DeliverResult.Broken;
            }

            uint written = 0;
            if (result == PopResult.Chain && chain.ReadableLength == 0 && (chains > 0 || chain.WritableLength >= VirtioNetHeader.Size))
            {
                if (chains == 0)
                {
                    headerAddress = chain[0].Address;
                    headerInFirst = chain[0].Length >= VirtioNetHeader.Size;
                }

                written = chain.Scatter(memory, _rxFrame.AsSpan(copied, _rxPending - copied));
                copied += (int)written;
            }
            else if (result == PopResult.Chain)
            {
                BadChains++;
            }

            _rxUsed[chains++] = (chain.Head, written);
            if (!_mergeable && copied < _rxPending)
            {
                // Without mergeable buffers a frame must fit one chain: drop it, give the chain back empty.
                DroppedFrames++;
                return TryAddUsed(a, queue, RxQueue, chain.Head, 0) ? DeliverResult.Dropped : DeliverResult.Broken;
            }

            if (chains == QueueSize && copied < _rxPending)
            {
                DroppedFrames++;
                break;
            }
        }

        if (_mergeable || chains == 1)
        {
            // num_buffers sits inside the first buffer when that holds the whole header (Linux always does this).
            if (headerInFirst)
            {
                Span<byte> numBuffers = stackalloc byte[2];
                BinaryPrimitives.WriteUInt16LittleEndian(numBuffers, (ushort)chains);
                memory.Write(headerAddress.Add(VirtioNetHeader.NumBuffersOffset), numBuffers);
            }
        }

        for (int i = 0; i < chains; i++)
        {
            if (!TryAddUsed(a, queue, RxQueue, _rxUsed[i].Head, _rxUsed[i].Length))
            {
                return DeliverResult.Broken;
            }
        }

        return DeliverResult.Delivered;
    }
}
