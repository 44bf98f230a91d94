using Kindling.Vmm.Memory;

namespace Kindling.Vmm.Devices.Virtio;

/// <summary>
/// A parsed, validated descriptor chain: its head index (what goes back in the used ring) and its buffers in
/// order, indirect tables flattened. Every buffer was checked to lie inside guest RAM when the chain was parsed.
/// The buffer list is owned by the queue and reused: consume the chain before popping the next one.
/// </summary>
public sealed class DescriptorChain
{
    private readonly List<Descriptor> _descriptors;
    private bool _sawWritable;

    internal DescriptorChain(int capacity) => _descriptors = new List<Descriptor>(capacity);

    public ushort Head { get; internal set; }

    public IReadOnlyList<Descriptor> Descriptors => _descriptors;

    public int Count => _descriptors.Count;

    public Descriptor this[int index] => _descriptors[index];

    /// <summary>Total bytes of the device-readable buffers.</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>Total bytes of the device-writable buffers.</summary>
    public ulong WritableLength { get; private set; }

    /// <summary>True when a device-readable buffer follows a device-writable one (the spec forbids it).</summary>
    public bool HasReadableAfterWritable { get; private set; }

    /// <summary>
    /// Copies the device-readable buffers, in order, into <paramref name="destination"/> until it is full; returns
    /// the bytes copied. The one gather loop of the devices: every address was checked when the chain was parsed.
    /// </summary>
    public int Gather(IGuestMemory memory, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int copied = 0;
        for (int i = 0; i < _descriptors.Count && copied < destination.Length; i++)
        {
            Descriptor d = _descriptors[i];
            if (d.IsWriteOnly)
            {
                continue;
            }

            int n = (int)Math.Min(d.Length, (uint)(destination.Length - copied));
            memory.Read(d.Address, destination.Slice(copied, n));
            copied += n;
        }

        return copied;
    }

    /// <summary>
    /// Copies <paramref name="source"/> into the device-writable buffers, in order, until it is used up or they are
    /// full; returns the bytes written (the used length). The one scatter loop of the devices.
    /// </summary>
    public uint Scatter(IGuestMemory memory, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(memory);
        int copied = 0;
        for (int i = 0; i < _descriptors.Count && copied < source.Length; i++)
        {
            Descriptor d = _descriptors[i];
            if (!d.IsWriteOnly)
            {
                continue;
            }

            int n = (int)Math.Min(d.Length, (uint)(source.Length - copied));
            memory.Write(d.Address, source.Slice(copied, n));
            copied += n;
        }

        return (uint)copied;
    }

    internal void Clear()
    {
        _descriptors.Clear();
        ReadableLength = 0;
        WritableLength = 0;
        HasReadableAfterWritable = false;
        _sawWritable = false;
    }

    internal void Add(Descriptor descriptor)
    {
        if (descriptor.IsWriteOnly)
        {
            _sawWritable = true;
            WritableLength += descriptor.Length;
        }
        else
        {
            ReadableLength += descriptor.Length;
            HasReadableAfterWritable |= _sawWritable;
        }

        _descriptors.Add(descriptor);
    }
}
