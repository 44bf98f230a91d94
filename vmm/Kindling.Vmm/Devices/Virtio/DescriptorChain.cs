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
