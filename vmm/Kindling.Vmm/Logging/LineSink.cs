using System.Text;
using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Logging;

/// <summary>
/// Whole lines to a file or FIFO (logger.log_path, metrics.metrics_path). A FIFO goes through a lossless
/// <see cref="PipeSerialOutput"/>: a writer waits at most until the spill bound, then lines spill in order.
/// </summary>
public sealed class LineSink : IDisposable
{
    private static readonly TimeSpan RetryWait = TimeSpan.FromMilliseconds(50);
    private readonly object _gate = new();
    private readonly ISerialOutput _output;
    private readonly SemaphoreSlim _writable = new(0);

    public LineSink(string path, TimeProvider time)
    {
        _output = SerialOutputs.Open(path, time);
        _output.Writable += OnWritable;
    }

    public void WriteLine(string line)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(line + "\n");
        lock (_gate)
        {
            foreach (byte b in bytes)
            {
                while (!_output.TryWrite(b))
                {
                    _writable.Wait(RetryWait);
                }
            }
        }
    }

    /// <summary>Waits (bounded) until written lines reached the file or FIFO.</summary>
    public void Flush(TimeSpan timeout)
    {
        if (_output is PipeSerialOutput pipe)
        {
            pipe.Flush(timeout);
        }
    }

    public void Dispose()
    {
        _output.Writable -= OnWritable;
        (_output as IDisposable)?.Dispose();
        _writable.Dispose();
    }

    private void OnWritable() => _writable.Release();
}
