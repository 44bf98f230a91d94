using Kindling.Vmm.Devices;
using Microsoft.Extensions.Logging;

namespace Kindling.Vmm.Machine;

/// <summary>
/// An address space of devices (the port-I/O bus or the MMIO bus): non-overlapping ranges mapped to
/// <see cref="IBusDevice"/>s, which see offsets relative to their base. Lookups are lock-free (binary search over an
/// immutable snapshot that registration replaces). Accesses that hit no device are logged at debug and ignored;
/// such reads return all-ones, as an undriven ISA/PCI bus does.
/// </summary>
public sealed partial class DeviceBus
{
    private readonly object _registrationGate = new();
    private readonly ILogger _logger;
    private volatile BusRange[] _ranges = [];
    private long _unhandled;

    public DeviceBus(string name, ILogger logger)
    {
        Name = name;
        _logger = logger;
    }

    public string Name { get; }

    /// <summary>Accesses that hit no device so far.</summary>
    public long UnhandledAccesses => Interlocked.Read(ref _unhandled);

    public IReadOnlyList<BusRange> Ranges => _ranges;

    /// <summary>Maps [<paramref name="baseAddress"/>, +<paramref name="size"/>) to <paramref name="device"/>.</summary>
    public void Register(ulong baseAddress, ulong size, IBusDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (size == 0 || baseAddress + size < baseAddress)
        {
            throw new ArgumentOutOfRangeException(nameof(size), $"{Name} bus: range 0x{baseAddress:x} +0x{size:x} is empty or wraps");
        }

        var range = new BusRange(baseAddress, size, device);
        lock (_registrationGate)
        {
            foreach (BusRange existing in _ranges)
            {
                if (baseAddress < existing.End && existing.Base < range.End)
                {
                    throw new ArgumentException(
                        $"{Name} bus: 0x{baseAddress:x}..0x{range.End:x} overlaps {existing.Device.GetType().Name} at 0x{existing.Base:x}..0x{existing.End:x}");
                }
            }

            _ranges = [.. _ranges.Append(range).OrderBy(r => r.Base)];
        }
    }

    /// <summary>The device covering [<paramref name="address"/>, +<paramref name="length"/>), or null.</summary>
    public BusRange? Find(ulong address, int length)
    {
        BusRange[] ranges = _ranges;
        int low = 0;
        int high = ranges.Length - 1;
        while (low <= high)
        {
            int mid = (low + high) >>> 1;
            BusRange r = ranges[mid];
            if (address < r.Base)
            {
                high = mid - 1;
            }
            else if (address >= r.End)
            {
                low = mid + 1;
            }
            else
            {
                // The access must not run past the device's end.
                return (ulong)length <= r.End - address ? r : null;
            }
        }

        return null;
    }

    /// <summary>Dispatches a read; returns false (and fills all-ones) when no device covers the range.</summary>
    public bool Read(ulong address, Span<byte> data)
    {
        if (Find(address, data.Length) is { } range)
        {
            range.Device.Read(address - range.Base, data);
            return true;
        }

        data.Fill(0xff);
        Unhandled("read", address, data.Length);
        return false;
    }

    /// <summary>Dispatches a write; returns false (the write is dropped) when no device covers the range.</summary>
    public bool Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (Find(address, data.Length) is { } range)
        {
            range.Device.Write(address - range.Base, data);
            return true;
        }

        Unhandled("write", address, data.Length);
        return false;
    }

    private void Unhandled(string access, ulong address, int length)
    {
        Interlocked.Increment(ref _unhandled);
        LogUnhandled(_logger, Name, access, length, address);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Bus} bus: unhandled {Access} of {Length} bytes at 0x{Address:x}")]
    private static partial void LogUnhandled(ILogger logger, string bus, string access, int length, ulong address);
}

/// <summary>One device's range on a <see cref="DeviceBus"/>.</summary>
public sealed record BusRange(ulong Base, ulong Size, IBusDevice Device)
{
    public ulong End => Base + Size;
}
