using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Kindling.Vmm.Memory;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Vsock;

/// <summary>
/// virtio-vsock (virtio 1.2 §5.10) in Firecracker's hybrid style: guest stream ports are bridged to host Unix
/// sockets. A host client connects to <see cref="UdsPath"/> and sends <c>CONNECT &lt;port&gt;\n</c>; once the guest
/// accepts it reads <c>OK &lt;hostport&gt;\n</c>. A guest connection to port P is bridged to <c>&lt;uds_path&gt;_P</c>.
/// Queues: rx (0), tx (1), event (2). Needs the event loop (sockets are watched there). This class is the virtio
/// device (queues and packets); <see cref="VsockMuxer"/> is the host side and <see cref="VsockConnection"/> one
/// connection's state machine, as Firecracker splits them.
/// </summary>
public sealed partial class VirtioVsock : VirtioDeviceBase, IDisposable
{
    public const int RxQueue = 0;
    public const int TxQueue = 1;
    public const int EventQueue = 2;
    public const ushort QueueSize = 256;

    /// <summary>Largest payload per packet we send or accept.</summary>
    public const int MaxPayload = 64 * 1024;

    private readonly VsockMuxer _muxer;
    private readonly byte[] _buffer = new byte[VsockHeader.Size + MaxPayload];
    private readonly byte[] _config = new byte[8];

    public VirtioVsock(ulong guestCid, string udsPath, IEventLoop loop, ILogger? logger = null)
        : base(VirtioSpec.VIRTIO_ID_VSOCK, VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX), [QueueSize, QueueSize, QueueSize], loop, logger)
    {
        ArgumentNullException.ThrowIfNull(loop);
        if (guestCid <= VsockHeader.VMADDR_CID_HOST || guestCid > uint.MaxValue)
        {
            throw new VirtioDeviceException($"vsock: guest_cid {guestCid} must be above 2 and fit 32 bits");
        }

        GuestCid = guestCid;
        UdsPath = udsPath;
        BinaryPrimitives.WriteUInt64LittleEndian(_config, guestCid);
        _muxer = new VsockMuxer(guestCid, udsPath, loop, RunLocked, () => RunQueue(RxQueue), Logger, Warnings);
    }

    public ulong GuestCid { get; }

    public string UdsPath { get; }

    /// <summary>Control packets (RST, RESPONSE…) dropped because the guest posted no RX buffers.</summary>
    public long DroppedControlPackets => _muxer.DroppedControlPackets;

    /// <summary>Open connections (for tests and metrics).</summary>
    public int ConnectionCount => _muxer.ConnectionCount;

    public override void ReadConfig(ulong offset, Span<byte> data) => CopyConfig(_config, offset, data);

    public override void Reset()
    {
        _muxer.Reset();
        base.Reset();
    }

    public override void ProcessQueue(int queueIndex)
    {
        if (queueIndex == TxQueue)
        {
            RunQueue(TxQueue);
        }

        if (queueIndex != EventQueue)
        {
            RunQueue(RxQueue);
        }
    }

    public void Dispose() => _muxer.Dispose();

    /// <summary>Host → guest runs in the base's queue loop: RX chains are popped while a packet may be waiting.</summary>
    protected override bool HasWork(int queueIndex) => queueIndex != RxQueue || _muxer.HasPacketForGuest;

    protected override ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        return queueIndex switch
        {
            RxQueue => FillRx(memory, chain, out usedLength),
            TxQueue => TakeTx(memory, chain),
            _ => ChainOutcome.Completed,
        };
    }

    /// <summary>Guest → host: one packet per TX chain, header then payload.</summary>
    private ChainOutcome TakeTx(IGuestMemory memory, DescriptorChain chain)
    {
        if (chain.WritableLength != 0 || chain.ReadableLength < VsockHeader.Size)
        {
            Warnings.Warn("vsock: TX chain {Head} malformed; dropped", chain.Head);
            return ChainOutcome.Completed;
        }

        int total = chain.Gather(memory, _buffer);
        VsockHeader hdr = MemoryMarshal.Read<VsockHeader>(_buffer);
        if (hdr.Len > total - VsockHeader.Size)
        {
            Warnings.Warn("vsock: TX packet claims {Len} payload bytes, carries {Have}; dropped", hdr.Len, total - VsockHeader.Size);
            return ChainOutcome.Completed;
        }

        _muxer.OnGuestPacket(hdr, _buffer.AsSpan(VsockHeader.Size, (int)hdr.Len));
        return ChainOutcome.Completed;
    }

    /// <summary>Host → guest: fills one RX chain with the next packet; deferred when every candidate would block.</summary>
    private ChainOutcome FillRx(IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        if (chain.ReadableLength != 0 || chain.WritableLength < VsockHeader.Size)
        {
            BadChains++;
            return ChainOutcome.Completed;
        }

        int room = (int)Math.Min(chain.WritableLength - VsockHeader.Size, (ulong)MaxPayload);
        int length = _muxer.NextPacketForGuest(_buffer, room);
        if (length == 0)
        {
            return ChainOutcome.Deferred; // keep the buffer for later
        }

        usedLength = chain.Scatter(memory, _buffer.AsSpan(0, length));
        return ChainOutcome.Completed;
    }
}
