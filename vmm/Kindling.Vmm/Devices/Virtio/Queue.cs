using System.Numerics;
using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7): descriptor table, available ring, used ring, indirect
/// descriptors and VIRTIO_F_EVENT_IDX notification suppression. Every guest access goes through
/// <see cref="IGuestMemory"/>'s checked accessors; a malformed chain is reported, never thrown.
/// </summary>
public sealed partial class Queue
{
    public const ushort VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
    public const ushort VIRTQ_USED_F_NO_NOTIFY = 1;

    private const ulong DescAlign = 16, AvailAlign = 2, UsedAlign = 4;
    private const ulong RingHeader = 4; // flags + idx
    private const ulong UsedElemSize = 8;

    private readonly DescriptorChain _chain;

    public Queue(ushort maxSize)
    {
        if (maxSize == 0 || !BitOperations.IsPow2((uint)maxSize))
        {
            throw new ArgumentOutOfRangeException(nameof(maxSize), maxSize, "queue max size must be a power of two");
        }

        MaxSize = maxSize;
        Size = maxSize;
        _chain = new DescriptorChain(maxSize);
    }

    public ushort MaxSize { get; }

    /// <summary>QueueNum as the driver set it.</summary>
    public ushort Size { get; set; }

    public bool Ready { get; set; }

    public GuestAddress DescTable { get; set; }

    public GuestAddress AvailRing { get; set; }

    public GuestAddress UsedRing { get; set; }

    /// <summary>Set on activation when VIRTIO_F_EVENT_IDX was negotiated.</summary>
    public bool EventIdx { get; set; }

    /// <summary>The next available-ring slot the device will consume.</summary>
    public ushort NextAvail { get; private set; }

    /// <summary>The next used-ring slot the device will fill.</summary>
    public ushort NextUsed { get; private set; }

    private ushort _signalledUsed;
    private bool _signalledValid;

    /// <summary>Back to the state after a device reset.</summary>
    public void Reset()
    {
        Size = MaxSize;
        Ready = false;
        DescTable = AvailRing = UsedRing = GuestAddress.Zero;
        EventIdx = false;
        NextAvail = NextUsed = 0;
        _signalledUsed = 0;
        _signalledValid = false;
    }

    /// <summary>
    /// Checks what the driver configured: size a power of two not above the maximum, rings aligned and inside
    /// guest RAM. Returns null when valid, otherwise what is wrong.
    /// </summary>
    public QueueError? Validate(IGuestMemory memory)
    {
        if (Size == 0 || Size > MaxSize || !BitOperations.IsPow2((uint)Size))
        {
            return new(QueueFault.BadSize, $"queue size {Size} is not a power of two in [1, {MaxSize}]");
        }

        if (DescTable.Value % DescAlign != 0 || AvailRing.Value % AvailAlign != 0 || UsedRing.Value % UsedAlign != 0)
        {
            return new(QueueFault.Misaligned, $"queue rings misaligned (desc {DescTable}, avail {AvailRing}, used {UsedRing})");
        }

        if (!memory.IsValidRange(DescTable, (ulong)VirtqDesc.Size * Size))
        {
            return new(QueueFault.RingOutsideMemory, $"descriptor table {DescTable} (+{VirtqDesc.Size * Size}) is outside guest RAM");
        }

        if (!memory.IsValidRange(AvailRing, RingHeader + (2UL * Size) + 2))
        {
            return new(QueueFault.RingOutsideMemory, $"available ring {AvailRing} is outside guest RAM");
        }

        if (!memory.IsValidRange(UsedRing, RingHeader + (UsedElemSize * Size) + 2))
        {
            return new(QueueFault.RingOutsideMemory, $"used ring {UsedRing} is outside guest RAM");
        }

        return null;
    }

    /// <summary>
    /// Takes the next available chain, parses and validates it into <paramref name="chain"/> (owned by the queue,
    /// valid until the next call). With EVENT_IDX, an empty ring re-arms avail_event before reporting empty.
    /// <paramref name="error"/> says what is wrong for <see cref="PopResult.BadChain"/> and <see cref="PopResult.Broken"/>.
    /// </summary>
    public PopResult Pop(IGuestMemory memory, out DescriptorChain chain, out QueueError? error)
    {
        chain = _chain;
        error = null;
        _chain.Clear();
        try
        {
            ushort availIdx = ReadAvailIdx(memory);
            if (availIdx == NextAvail)
            {
                if (!EventIdx)
                {
                    return PopResult.Empty;
                }

                // Ask for a notification at the next entry, then look again: the driver may have published between
                // our read and the write.
                memory.Write(AvailEventAddress, NextAvail);
                Interlocked.MemoryBarrier();
                if (ReadAvailIdx(memory) == NextAvail)
                {
                    return PopResult.Empty;
                }

                availIdx = ReadAvailIdx(memory);
            }

            if ((ushort)(availIdx - NextAvail) > Size)
            {
                error = new(QueueFault.AvailIndexJump, $"available index {availIdx} is more than {Size} ahead of {NextAvail}");
                return PopResult.Broken;
            }

            // The ring entry is read after the index (ReadAvailIdx is an acquire load; pairs with the driver's
            // write barrier). avail_event is left alone while the ring has entries: it is re-armed above when the
            // ring is found empty, the only time this device stops looking (or a deferral's wake-up runs it again),
            // and a stale avail_event only spares the driver notifications while the device is busy.
            ulong slot = RingHeader + (2UL * (ulong)(NextAvail % Size));
            ushort head = memory.Read<ushort>(AvailRing.Add(slot));
            NextAvail++;

            if (head >= Size)
            {
                error = new(QueueFault.HeadOutOfRange, $"available ring names head descriptor {head}, queue size is {Size}");
                return PopResult.Broken;
            }

            _chain.Head = head;
            error = ParseChain(memory, head);
            if (error is not null)
            {
                _chain.Clear();
                return PopResult.BadChain;
            }

            return PopResult.Chain;
        }
        catch (GuestMemoryException e)
        {
            error = new(QueueFault.RingAccess, e.Message);
            return PopResult.Broken;
        }
    }

    /// <summary>Puts the last popped chain back (the device could not serve it yet, e.g. rate limited).</summary>
    public void UndoPop(int count = 1)
    {
        NextAvail -= (ushort)count;
    }

    /// <summary>Returns chain <paramref name="head"/> to the driver with <paramref name="length"/> bytes written.</summary>
    /// <exception cref="QueueBrokenException">The used ring could not be written: the device needs a reset.</exception>
    public void AddUsed(IGuestMemory memory, ushort head, uint length)
    {
        try
        {
            ulong slot = RingHeader + (UsedElemSize * (ulong)(NextUsed % Size));
            GuestAddress elem = UsedRing.Add(slot);
            // struct virtq_used_elem { le32 id; le32 len; } in one store.
            memory.Write(elem, (ulong)head | ((ulong)length << 32));
            NextUsed++;
            // The element must be visible before the index: a release store (x86-64 keeps stores in order).
            memory.WriteRelease(UsedRing.Add(2), NextUsed);
        }
        catch (GuestMemoryException e)
        {
            throw new QueueBrokenException(new QueueError(QueueFault.RingAccess, $"used ring: {e.Message}"));
        }
    }

    /// <summary>
    /// Whether the driver wants an interrupt for what was added to the used ring since the last time this returned
    /// true (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with EVENT_IDX).
    /// </summary>
    public bool NeedsNotification(IGuestMemory memory)
    {
        Interlocked.MemoryBarrier();
        try
        {
            if (!EventIdx)
            {
                return (memory.Read<ushort>(AvailRing) & VIRTQ_AVAIL_F_NO_INTERRUPT) == 0;
            }

            ushort newIdx = NextUsed;
            ushort oldIdx = _signalledUsed;
            bool valid = _signalledValid;
            _signalledUsed = newIdx;
            _signalledValid = true;
            if (!valid)
            {
                return true;
            }

            ushort usedEvent = memory.Read<ushort>(UsedEventAddress);
            return VringNeedEvent(usedEvent, newIdx, oldIdx);
        }
        catch (GuestMemoryException)
        {
            return true;
        }
    }

    /// <summary>vring_need_event from the spec: true when <paramref name="eventIdx"/> lies in (old, new].</summary>
    public static bool VringNeedEvent(ushort eventIdx, ushort newIdx, ushort oldIdx) =>
        (ushort)(newIdx - eventIdx - 1) < (ushort)(newIdx - oldIdx);

    private GuestAddress UsedEventAddress => AvailRing.Add(RingHeader + (2UL * Size));

    private GuestAddress AvailEventAddress => UsedRing.Add(RingHeader + (UsedElemSize * Size));

    private ushort ReadAvailIdx(IGuestMemory memory) => memory.ReadAcquire(AvailRing.Add(2));

    private QueueError? ParseChain(IGuestMemory memory, ushort head)
    {
        // TTL: the spec forbids chains longer than the queue size, indirect entries included; every descriptor
        // visited counts, so a loop ends here.
        int ttl = Size;
        ushort index = head;
        while (true)
        {
            if (ttl-- <= 0)
            {
                return new(QueueFault.ChainTooLong, $"descriptor chain from head {head} is longer than the queue size {Size} (a loop?)");
            }

            VirtqDesc desc = memory.Read<VirtqDesc>(DescTable.Add((ulong)index * VirtqDesc.Size));
            if ((desc.Flags & VirtqDesc.VIRTQ_DESC_F_INDIRECT) != 0)
            {
                ttl++; // the table descriptor itself is not a buffer of the chain
                QueueError? error = ParseIndirect(memory, desc, ref ttl);
                if (error is not null)
                {
                    return error;
                }

                if ((desc.Flags & VirtqDesc.VIRTQ_DESC_F_NEXT) != 0)
                {
                    return new(QueueFault.BadIndirect, "an indirect descriptor also has VIRTQ_DESC_F_NEXT");
                }

                return null;
            }

            QueueError? bad = AddBuffer(memory, desc);
            if (bad is not null)
            {
                return bad;
            }

            if ((desc.Flags & VirtqDesc.VIRTQ_DESC_F_NEXT) == 0)
            {
                return null;
            }

            if (desc.Next >= Size)
            {
                return new(QueueFault.NextOutOfRange, $"descriptor {index} names next {desc.Next}, queue size is {Size}");
            }

            index = desc.Next;
        }
    }

    private QueueError? ParseIndirect(IGuestMemory memory, VirtqDesc table, ref int ttl)
    {
        if (!IndirectDesc)
        {
            return new(QueueFault.BadIndirect, "indirect descriptor used without VIRTIO_F_INDIRECT_DESC");
        }

        if (table.Len == 0 || table.Len % VirtqDesc.Size != 0)
        {
            return new(QueueFault.BadIndirect, $"indirect table length {table.Len} is not a non-zero multiple of {VirtqDesc.Size}");
        }

        uint count = table.Len / VirtqDesc.Size;
        if (count > Size)
        {
            return new(QueueFault.BadIndirect, $"indirect table of {count} entries exceeds the queue size {Size}");
        }

        var tableAddress = new GuestAddress(table.Addr);
        if (!memory.IsValidRange(tableAddress, table.Len))
        {
            return new(QueueFault.BufferOutsideMemory, $"indirect table {tableAddress} (+{table.Len}) is outside guest RAM");
        }

        uint index = 0;
        int tableTtl = (int)count;
        while (true)
        {
            if (tableTtl-- <= 0 || ttl-- <= 0)
            {
                return new(QueueFault.ChainTooLong, "indirect descriptor chain loops or exceeds the queue size");
            }

            VirtqDesc desc = memory.Read<VirtqDesc>(tableAddress.Add((ulong)index * VirtqDesc.Size));
            if ((desc.Flags & VirtqDesc.VIRTQ_DESC_F_INDIRECT) != 0)
            {
                return new(QueueFault.BadIndirect, "nested indirect descriptor");
            }

            QueueError? bad = AddBuffer(memory, desc);
            if (bad is not null)
            {
                return bad;
            }

            if ((desc.Flags & VirtqDesc.VIRTQ_DESC_F_NEXT) == 0)
            {
                return null;
            }

            if (desc.Next >= count)
            {
                return new(QueueFault.NextOutOfRange, $"indirect descriptor names next {desc.Next}, table has {count}");
            }

            index = desc.Next;
        }
    }

    /// <summary>Set on activation when VIRTIO_F_INDIRECT_DESC was negotiated.</summary>
    public bool IndirectDesc { get; set; }

    private QueueError? AddBuffer(IGuestMemory memory, VirtqDesc desc)
    {
        var address = new GuestAddress(desc.Addr);
        if (!memory.IsValidRange(address, desc.Len))
        {
            return new(QueueFault.BufferOutsideMemory, $"buffer {address} (+{desc.Len}) is outside guest RAM");
        }

        _chain.Add(new Descriptor(address, desc.Len, (desc.Flags & VirtqDesc.VIRTQ_DESC_F_WRITE) != 0));
        return null;
    }
}
