using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Logging;

/// <summary>Guest serial output appended to a regular file: never refuses; flushed at each newline and on dispose.</summary>
public sealed class FileSerialOutput : ISerialOutput, IDisposable
{
    private readonly object _gate = new();
    private readonly FileStream _file;

    public FileSerialOutput(string path)
    {
        _file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite, 64 * 1024);
    }

    // A file always takes bytes; the event exists for the contract.
    public event Action? Writable
    {
        add { }
        remove { }
    }

    public SerialOutputMetrics Metrics { get; } = new();

    public bool TryWrite(byte value)
    {
        lock (_gate)
        {
            _file.WriteByte(value);
            Metrics.AddWritten(1);
            Metrics.AddDelivered(1);
            if (value == (byte)'\n')
            {
                _file.Flush();
            }
        }

        return true;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _file.Dispose();
        }
    }
}
