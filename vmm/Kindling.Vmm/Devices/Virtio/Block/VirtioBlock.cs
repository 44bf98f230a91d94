using System.Buffers.Binary;
using System.Text;
using Kindling.Vmm.Memory;
using Kindling.Vmm.RateLimiting;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Devices.Virtio.Block;

/// <summary>
/// virtio-blk (virtio 1.2 §5.2): read, write, flush and get-id on a host file; read-only drives answer writes
/// with VIRTIO_BLK_S_IOERR; out-of-range sectors and oversized requests fail with IOERR; unknown request types
/// with UNSUPP. An optional rate limiter charges bytes and ops per request.
/// </summary>
public sealed partial class VirtioBlock : VirtioDeviceBase, IDisposable
{
    public const int VIRTIO_BLK_F_SEG_MAX = 2;
    public const int VIRTIO_BLK_F_RO = 5;
    public const int VIRTIO_BLK_F_FLUSH = 9;
    public const int VIRTIO_BLK_ID_BYTES = 20;

    public const ushort QueueSize = 256;

    /// <summary>seg_max: data segments per request (the queue size less header and status).</summary>
    public const uint SegMax = QueueSize - 2;

    /// <summary>The largest request served (bigger ones fail with IOERR).</summary>
    public const ulong MaxRequestBytes = 8UL << 20;

    private const int ConfigSize = 24;
    private const int ConfigCapacity = 0;
    private const int ConfigSegMax = 12;

    private DiskBackend _disk;
    private readonly RateLimiter? _limiter;
    private readonly byte[] _config = new byte[ConfigSize];
    private readonly byte[] _id = new byte[VIRTIO_BLK_ID_BYTES];

    public VirtioBlock(string driveId, DiskBackend disk, RateLimiter? limiter = null, IEventLoop? loop = null, ILogger? logger = null)
        : base(VirtioSpec.VIRTIO_ID_BLOCK, Features(disk.IsReadOnly), [QueueSize], loop, logger)
    {
        DriveId = driveId;
        _disk = disk;
        _limiter = limiter is { IsUnlimited: false } ? limiter : null;
        if (_limiter is not null)
        {
            _limiter.Unblocked += () => RunLocked(() => RunQueue(0));
        }

        BinaryPrimitives.WriteUInt64LittleEndian(_config.AsSpan(ConfigCapacity), disk.CapacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(_config.AsSpan(ConfigSegMax), SegMax);
        int n = Encoding.UTF8.GetBytes(driveId.AsSpan(0, Math.Min(driveId.Length, VIRTIO_BLK_ID_BYTES)), _id);
        _ = n;
    }

    public string DriveId { get; }

    public DiskBackend Disk => _disk;

    private static ulong Features(bool readOnly) =>
        VirtioSpec.Bit(VIRTIO_BLK_F_SEG_MAX) | VirtioSpec.Bit(VIRTIO_BLK_F_FLUSH) |
        VirtioSpec.Bit(VirtioSpec.VIRTIO_F_INDIRECT_DESC) | VirtioSpec.Bit(VirtioSpec.VIRTIO_F_EVENT_IDX) |
        (readOnly ? VirtioSpec.Bit(VIRTIO_BLK_F_RO) : 0);

    public override void ReadConfig(ulong offset, Span<byte> data) => CopyConfig(_config, offset, data);

    public void Dispose()
    {
        _limiter?.Dispose();
        _disk.Dispose();
    }

    protected override ChainOutcome HandleChain(int queueIndex, IGuestMemory memory, DescriptorChain chain, out uint usedLength)
    {
        usedLength = 0;
        string? error = BlockRequest.TryParse(memory, chain, out BlockRequest request);
        if (error is not null)
        {
            Warnings.Warn("virtio-blk '{Drive}': request {Head} failed: {Error}", DriveId, chain.Head, error);
            return ChainOutcome.Completed;
        }

        if (_limiter is not null)
        {
            if (!_limiter.Consume(1, TokenType.Ops))
            {
                return ChainOutcome.Deferred;
            }

            if (request.DataLength > 0 && !_limiter.Consume((long)request.DataLength, TokenType.Bytes))
            {
                _limiter.ManualReplenish(1, TokenType.Ops);
                return ChainOutcome.Deferred;
            }
        }

        byte status = Execute(memory, chain, request, out uint written);
        memory.Write(request.StatusAddress, status);
        usedLength = written + 1;
        return ChainOutcome.Completed;
    }

    private byte Execute(IGuestMemory memory, DescriptorChain chain, BlockRequest request, out uint written)
    {
        written = 0;
        switch (request.Type)
        {
            case BlockRequest.VIRTIO_BLK_T_IN:
            case BlockRequest.VIRTIO_BLK_T_OUT:
                return ReadWrite(memory, chain, request, request.Type == BlockRequest.VIRTIO_BLK_T_IN, out written);
            case BlockRequest.VIRTIO_BLK_T_FLUSH:
                if (_disk.IsReadOnly)
                {
                    return BlockRequest.VIRTIO_BLK_S_OK;
                }

                try
                {
                    _disk.Flush();
                    return BlockRequest.VIRTIO_BLK_S_OK;
                }
                catch (SyscallException e)
                {
                    LogFlushFailed(Logger, DriveId, e.Message);
                    return BlockRequest.VIRTIO_BLK_S_IOERR;
                }

            case BlockRequest.VIRTIO_BLK_T_GET_ID:
                if (request.DataCount < 1 || !chain[request.FirstData].IsWriteOnly)
                {
                    return BlockRequest.VIRTIO_BLK_S_IOERR;
                }

                Descriptor idBuffer = chain[request.FirstData];
                int idLength = (int)Math.Min(idBuffer.Length, VIRTIO_BLK_ID_BYTES);
                memory.Write(idBuffer.Address, _id.AsSpan(0, idLength));
                written = (uint)idLength;
                return BlockRequest.VIRTIO_BLK_S_OK;
            default:
                return BlockRequest.VIRTIO_BLK_S_UNSUPP;
        }
    }

    private byte ReadWrite(IGuestMemory memory, DescriptorChain chain, BlockRequest request, bool isRead, out uint written)
    {
        written = 0;
        if (!isRead && _disk.IsReadOnly)
        {
            return BlockRequest.VIRTIO_BLK_S_IOERR;
        }

        if (request.DataLength == 0 || request.DataLength > MaxRequestBytes || request.DataLength % BlockRequest.SectorSize != 0 ||
            !_disk.InRange(request.Sector, request.DataLength))
        {
            return BlockRequest.VIRTIO_BLK_S_IOERR;
        }

        for (int i = request.FirstData; i < request.FirstData + request.DataCount; i++)
        {
            // Reads fill device-writable buffers; writes come from device-readable ones.
            if (chain[i].IsWriteOnly != isRead)
            {
                return BlockRequest.VIRTIO_BLK_S_IOERR;
            }
        }

        long offset = (long)(request.Sector * BlockRequest.SectorSize);
        try
        {
            for (int i = request.FirstData; i < request.FirstData + request.DataCount; i++)
            {
                Descriptor d = chain[i];
                if (isRead)
                {
                    _disk.Read(memory, d.Address, (int)d.Length, offset);
                    written += d.Length;
                }
                else
                {
                    _disk.Write(memory, d.Address, (int)d.Length, offset);
                }

                offset += d.Length;
            }
        }
        catch (SyscallException e)
        {
            LogIoFailed(Logger, DriveId, offset, e.Message);
            return BlockRequest.VIRTIO_BLK_S_IOERR;
        }

        return BlockRequest.VIRTIO_BLK_S_OK;
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "virtio-blk '{Drive}': flush failed: {Error}")]
    private static partial void LogFlushFailed(ILogger logger, string drive, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "virtio-blk '{Drive}': I/O at byte {Offset} failed: {Error}")]
    private static partial void LogIoFailed(ILogger logger, string drive, long offset, string error);
}
