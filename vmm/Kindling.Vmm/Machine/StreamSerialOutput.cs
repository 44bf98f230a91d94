using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Machine;

/// <summary>
/// Serial output to a blocking stream (stdout, a file): every byte is accepted and written through at once, so the
/// first guest byte is visible immediately. A broken stream (reader gone) drops output instead of failing the VM.
/// </summary>
public sealed class StreamSerialOutput : ISerialOutput
{
    private readonly Stream _stream;
    private readonly object _gate = new();
    private bool _broken;

    public StreamSerialOutput(Stream stream) => _stream = stream;

    // Never raised: this sink never refuses a byte.
    public event Action? Writable
    {
        add { }
        remove { }
    }

    /// <summary>Bytes written so far.</summary>
    public long BytesWritten { get; private set; }

    public bool TryWrite(byte value)
    {
        lock (_gate)
        {
            if (_broken)
            {
                return true;
            }

            try
            {
                _stream.WriteByte(value);
                _stream.Flush();
                BytesWritten++;
            }
            catch (IOException)
            {
                _broken = true;
            }

            return true;
        }
    }
}
