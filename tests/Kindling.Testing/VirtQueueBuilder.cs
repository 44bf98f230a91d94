using System.Buffers.Binary;
using Kindling.Vmm.Devices;
using Kindling.Vmm.Devices.Virtio;
using Kindling.Vmm.Memory;

namespace Kindling.Testing;

/// <summary>One buffer of a chain. <see cref="DeviceReads"/>: driver → device (Linux out_sgs); <see cref="DeviceWrites"/>: device → driver (in_sgs).</summary>
public readonly record struct DriverBuffer(GuestAddress Address, uint Length, bool Writable)
{
    public static DriverBuffer DeviceReads(GuestAddress address, uint length) => new(address, length, false);

    public static DriverBuffer DeviceWrites(GuestAddress address, uint length) => new(address, length, true);
}

/// <summary>A used-ring element as the driver reads it.</summary>
public readonly record struct UsedElement(uint Id, uint Length);

/// <summary>
/// The driver side of a split virtqueue, laid out in guest memory the way Linux's virtio_ring does (descriptor
/// table, then the available ring with used_event, then the used ring with avail_event on the next 4 KiB
/// boundary). Builds chains (direct and indirect), publishes them and reads the used ring. Also hands out data
/// buffers from a bump allocator in a separate area.
/// </summary>
public sealed class VirtQueueBuilder
{
    private const ulong PageSize = 4096;
    private readonly IGuestMemory _memory;
    private readonly ulong _dataStart;
    private readonly ulong _dataEnd;
    private ulong _dataNext;
    private ushort _nextFreeDesc;
    private ushort _availIdx;
    private ushort _lastUsedSeen;

    /// <param name="memory">Guest memory.</param>
    /// <param name="ringBase">Where the rings go (4 KiB aligned).</param>
    /// <param name="size">Queue size (what the driver writes to QueueNum).</param>
    /// <param name="dataBase">Start of the area data buffers are allocated from.</param>
    /// <param name="dataSize">Size of that area.</param>
    public VirtQueueBuilder(IGuestMemory memory, GuestAddress ringBase, ushort size, GuestAddress dataBase, ulong dataSize)
    {
        _memory = memory;
        Size = size;
        Desc = ringBase;
        Avail = ringBase.Add(16UL * size);
        ulong availEnd = Avail.Value + 4 + (2UL * size) + 2;
        Used = new GuestAddress((availEnd + PageSize - 1) & ~(PageSize - 1));
        _dataStart = _dataNext = dataBase.Value;
        _dataEnd = dataBase.Value + dataSize;
        _memory.GetSpan(Desc, checked((int)(Used.Value + 4 + (8UL * size) + 2 - Desc.Value))).Clear();
    }

    public ushort Size { get; }

    /// <summary>After a device reset: clears the rings and the driver's indices, as a re-probing driver would.</summary>
    public void ResetDriverState()
    {
        _memory.GetSpan(Desc, checked((int)(Used.Value + 4 + (8UL * Size) + 2 - Desc.Value))).Clear();
        _availIdx = 0;
        _lastUsedSeen = 0;
        _nextFreeDesc = 0;
    }

    public GuestAddress Desc { get; }

    public GuestAddress Avail { get; }

    public GuestAddress Used { get; }

    /// <summary>The total ring footprint from <see cref="Desc"/>.</summary>
    public static ulong RingBytes(ushort size) =>
        ((((16UL * size) + 4 + (2UL * size) + 2 + PageSize - 1) & ~(PageSize - 1)) + 4 + (8UL * size) + 2);

    /// <summary>Allocates <paramref name="length"/> bytes of data area (16-byte aligned), zeroed.</summary>
    public GuestAddress Alloc(ulong length)
    {
        ulong start = (_dataNext + 15) & ~15UL;
        if (start + length > _dataEnd)
        {
            // Wrap around: tests recycle the area once the device consumed earlier buffers.
            start = _dataStart;
            if (start + length > _dataEnd)
            {
                throw new ArgumentOutOfRangeException(nameof(length), length, "larger than the data area");
            }
        }

        _dataNext = start + length;
        _memory.GetSpan(new GuestAddress(start), checked((int)length)).Clear();
        return new GuestAddress(start);
    }

    /// <summary>Writes descriptor <paramref name="index"/> verbatim (hostile tests use any values).</summary>
    public void WriteDescriptor(ushort index, ulong address, uint length, ushort flags, ushort next) =>
        WriteDescriptorAt(Desc.Add(16UL * index), address, length, flags, next);

    /// <summary>Writes one descriptor at any guest address (indirect tables).</summary>
    public void WriteDescriptorAt(GuestAddress at, ulong address, uint length, ushort flags, ushort next)
    {
        Span<byte> d = _memory.GetSpan(at, 16);
        BinaryPrimitives.WriteUInt64LittleEndian(d, address);
        BinaryPrimitives.WriteUInt32LittleEndian(d[8..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(d[12..], flags);
        BinaryPrimitives.WriteUInt16LittleEndian(d[14..], next);
    }

    /// <summary>Builds a chain in the descriptor table from <paramref name="buffers"/>; returns its head (not yet published).</summary>
    public ushort AddChain(params DriverBuffer[] buffers)
    {
        if (buffers.Length == 0 || buffers.Length > Size)
        {
            throw new ArgumentException("a chain needs 1..Size buffers", nameof(buffers));
        }

        ushort head = _nextFreeDesc;
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((head + i) % Size);
            ushort next = (ushort)((index + 1) % Size);
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? VirtqDesc.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VirtqDesc.VIRTQ_DESC_F_NEXT));
            WriteDescriptor(index, buffers[i].Address.Value, buffers[i].Length, flags, last ? (ushort)0 : next);
        }

        _nextFreeDesc = (ushort)((head + buffers.Length) % Size);
        return head;
    }

    /// <summary>Builds an indirect table (allocated from the data area) holding <paramref name="buffers"/> and one descriptor pointing at it.</summary>
    public ushort AddIndirectChain(params DriverBuffer[] buffers)
    {
        GuestAddress table = Alloc(16UL * (ulong)buffers.Length);
        for (int i = 0; i < buffers.Length; i++)
        {
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? VirtqDesc.VIRTQ_DESC_F_WRITE : 0) | (last ? 0 : VirtqDesc.VIRTQ_DESC_F_NEXT));
            WriteDescriptorAt(table.Add(16UL * (ulong)i), buffers[i].Address.Value, buffers[i].Length, flags, last ? (ushort)0 : (ushort)(i + 1));
        }

        ushort head = _nextFreeDesc;
        WriteDescriptor(head, table.Value, (uint)(16 * buffers.Length), VirtqDesc.VIRTQ_DESC_F_INDIRECT, 0);
        _nextFreeDesc = (ushort)((head + 1) % Size);
        return head;
    }

    /// <summary>Puts <paramref name="head"/> in the available ring and advances avail idx (with a release barrier).</summary>
    public void Publish(ushort head)
    {
        _memory.Write(Avail.Add(4 + (2UL * (ulong)(_availIdx % Size))), head);
        _availIdx++;
        // The entry before the index, as Linux's virtio_wmb does it on x86-64: a store ordering, no fence.
        _memory.WriteRelease(Avail.Add(2), _availIdx);
    }

    /// <summary>Builds and publishes a chain; returns its head.</summary>
    public ushort Push(params DriverBuffer[] buffers)
    {
        ushort head = AddChain(buffers);
        Publish(head);
        return head;
    }

    /// <summary>Sets avail idx to any value (hostile tests).</summary>
    public void SetAvailIdx(ushort value)
    {
        _availIdx = value;
        _memory.Write(Avail.Add(2), value);
    }

    /// <summary>VIRTQ_AVAIL_F_NO_INTERRUPT.</summary>
    public void SetNoInterrupt(bool on) => _memory.Write(Avail, (ushort)(on ? Queue.VIRTQ_AVAIL_F_NO_INTERRUPT : 0));

    /// <summary>used_event (EVENT_IDX): interrupt me when the used idx passes this value.</summary>
    public void SetUsedEvent(ushort value) => _memory.Write(Avail.Add(4 + (2UL * Size)), value);

    /// <summary>avail_event as the device wrote it.</summary>
    public ushort AvailEvent => _memory.Read<ushort>(Used.Add(4 + (8UL * Size)));

    public ushort UsedIdx => _memory.Read<ushort>(Used.Add(2));

    public ushort UsedFlags => _memory.Read<ushort>(Used);

    /// <summary>Used element in ring slot <paramref name="position"/> (mod size).</summary>
    public UsedElement ReadUsed(int position)
    {
        GuestAddress e = Used.Add(4 + (8UL * (ulong)(position % Size)));
        return new UsedElement(_memory.Read<uint>(e), _memory.Read<uint>(e.Add(4)));
    }

    /// <summary>The next used element the driver has not seen, if any.</summary>
    public bool TryTakeUsed(out UsedElement element)
    {
        if (UsedIdx == _lastUsedSeen)
        {
            element = default;
            return false;
        }

        element = ReadUsed(_lastUsedSeen);
        _lastUsedSeen++;
        return true;
    }

    /// <summary>All used elements not seen yet.</summary>
    public List<UsedElement> TakeAllUsed()
    {
        var all = new List<UsedElement>();
        while (TryTakeUsed(out UsedElement e))
        {
            all.Add(e);
        }

        return all;
    }

    /// <summary>Sets up this queue on <paramref name="transport"/> as queue <paramref name="index"/> (QueueSel … QueueReady).</summary>
    public void Configure(VirtioMmioDriver driver, int index) => driver.SetupQueue(index, Size, Desc, Avail, Used);
}

/// <summary>
/// Drives an <see cref="IBusDevice"/> virtio-mmio transport through the register sequence of Linux's virtio_mmio
/// driver: probe (magic, version, device id), reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK (read back),
/// queue setup, DRIVER_OK; notify; interrupt acknowledge.
/// </summary>
public sealed class VirtioMmioDriver(IBusDevice transport)
{
    public uint ReadRegister(ulong offset)
    {
        Span<byte> b = stackalloc byte[4];
        transport.Read(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    public void WriteRegister(ulong offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        transport.Write(offset, b);
    }

    /// <summary>Checks magic and version 2; returns the device ID.</summary>
    public uint Probe()
    {
        if (ReadRegister(VirtioMmio.MagicValue) != VirtioMmio.MagicValueVirt)
        {
            throw new InvalidOperationException("bad virtio-mmio magic");
        }

        if (ReadRegister(VirtioMmio.Version) != VirtioMmio.VersionModern)
        {
            throw new InvalidOperationException("not a virtio-mmio version 2 device");
        }

        return ReadRegister(VirtioMmio.DeviceID);
    }

    public ulong DeviceFeatures()
    {
        WriteRegister(VirtioMmio.DeviceFeaturesSel, 1);
        ulong high = ReadRegister(VirtioMmio.DeviceFeatures);
        WriteRegister(VirtioMmio.DeviceFeaturesSel, 0);
        return (high << 32) | ReadRegister(VirtioMmio.DeviceFeatures);
    }

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, write features, FEATURES_OK; true when the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        WriteRegister(VirtioMmio.Status, 0);
        WriteRegister(VirtioMmio.Status, VirtioSpec.ACKNOWLEDGE);
        WriteRegister(VirtioMmio.Status, VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER);
        WriteRegister(VirtioMmio.DriverFeaturesSel, 1);
        WriteRegister(VirtioMmio.DriverFeatures, (uint)(features >> 32));
        WriteRegister(VirtioMmio.DriverFeaturesSel, 0);
        WriteRegister(VirtioMmio.DriverFeatures, (uint)features);
        WriteRegister(VirtioMmio.Status, VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK);
        return (ReadRegister(VirtioMmio.Status) & VirtioSpec.FEATURES_OK) != 0;
    }

    public void SetupQueue(int index, ushort size, GuestAddress desc, GuestAddress avail, GuestAddress used)
    {
        WriteRegister(VirtioMmio.QueueSel, (uint)index);
        if (ReadRegister(VirtioMmio.QueueReady) != 0)
        {
            throw new InvalidOperationException($"queue {index} already ready");
        }

        uint max = ReadRegister(VirtioMmio.QueueNumMax);
        if (max == 0)
        {
            throw new InvalidOperationException($"queue {index} not available");
        }

        WriteRegister(VirtioMmio.QueueNum, size);
        WriteRegister(VirtioMmio.QueueDescLow, (uint)desc.Value);
        WriteRegister(VirtioMmio.QueueDescHigh, (uint)(desc.Value >> 32));
        WriteRegister(VirtioMmio.QueueDriverLow, (uint)avail.Value);
        WriteRegister(VirtioMmio.QueueDriverHigh, (uint)(avail.Value >> 32));
        WriteRegister(VirtioMmio.QueueDeviceLow, (uint)used.Value);
        WriteRegister(VirtioMmio.QueueDeviceHigh, (uint)(used.Value >> 32));
        WriteRegister(VirtioMmio.QueueReady, 1);
    }

    public void DriverOk() =>
        WriteRegister(VirtioMmio.Status, VirtioSpec.ACKNOWLEDGE | VirtioSpec.DRIVER | VirtioSpec.FEATURES_OK | VirtioSpec.DRIVER_OK);

    /// <summary>The whole Linux sequence: probe, negotiate (device features ∩ <paramref name="wanted"/>), queues, DRIVER_OK; returns the acked features.</summary>
    public ulong Initialize(ulong wanted, params VirtQueueBuilder[] queues)
    {
        Probe();
        ulong features = DeviceFeatures() & wanted;
        if (!Negotiate(features))
        {
            throw new InvalidOperationException("device refused FEATURES_OK");
        }

        for (int i = 0; i < queues.Length; i++)
        {
            queues[i].Configure(this, i);
        }

        DriverOk();
        return features;
    }

    public void Notify(int queue) => WriteRegister(VirtioMmio.QueueNotify, (uint)queue);

    /// <summary>Reads InterruptStatus and acknowledges it, as vm_interrupt does.</summary>
    public uint AcknowledgeInterrupt()
    {
        uint status = ReadRegister(VirtioMmio.InterruptStatus);
        WriteRegister(VirtioMmio.InterruptACK, status);
        return status;
    }

    public uint Status => ReadRegister(VirtioMmio.Status);

    public void ReadConfig(ulong offset, Span<byte> data) => transport.Read(VirtioMmio.Config + offset, data);
}

/// <summary>An interrupt line that counts.</summary>
public sealed class CountingInterrupt : IInterruptTrigger
{
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Trigger() => Interlocked.Increment(ref _count);
}
