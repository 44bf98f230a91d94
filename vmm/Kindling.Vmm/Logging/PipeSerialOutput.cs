using Kindling.Vmm.Devices.Legacy;

namespace Kindling.Vmm.Logging;

/// <summary>
/// Guest serial output to a pipe-like target (a FIFO, or stdout when it is a pipe) without losing a byte.
/// <para>
/// The UART's bytes go into a bounded ring buffer that a writer thread drains into the target with blocking writes.
/// When the ring is full, <see cref="TryWrite"/> refuses (the UART keeps THRE clear: back-pressure on the guest)
/// and <see cref="Writable"/> fires once room frees. If the guest stays held longer than the spill bound, further
/// bytes are appended to a spill file (<c>&lt;fifo&gt;.spill</c>) instead; the writer drains the ring, then the spill
/// file, into the target, so the reader still receives every byte, in order, and the guest is not held forever by
/// a stalled reader. Spilled bytes are counted in <see cref="Metrics"/>.
/// </para>
/// </summary>
public sealed class PipeSerialOutput : ISerialOutput, IDisposable
{
    public const int DefaultBufferBytes = 64 * 1024;
    public static readonly TimeSpan DefaultSpillAfter = TimeSpan.FromMilliseconds(500);

    /// <summary>On dispose, how long the reader may take no byte at all before undelivered output is given up.</summary>
    public static readonly TimeSpan DefaultDrainStall = TimeSpan.FromSeconds(10);
    private const int ChunkBytes = 64 * 1024;

    private readonly object _gate = new();
    private readonly Stream _target;
    private readonly string? _spillPath;
    private readonly TimeSpan _spillAfter;
    private readonly TimeSpan _drainStall;
    private readonly TimeProvider _time;
    private readonly byte[] _ring;
    private readonly Thread _writer;
    private readonly ITimer? _spillTimer;
    private int _head;
    private int _count;
    private bool _refused;
    private bool _spilling;
    private FileStream? _spill;
    private Exception? _spillError;
    private long _spillWritten;
    private long _spillRead;
    private bool _disposing;
    private bool _inFlight;
    private Exception? _writeError;

    /// <param name="target">Where bytes go (blocking writes happen on this sink's own thread).</param>
    /// <param name="spillPath">The spill file; null: never spill (pure back-pressure).</param>
    /// <param name="spillAfter">How long the guest may be held by a full buffer before bytes spill.</param>
    /// <param name="drainStall">On dispose, how long the reader may take nothing before the rest is given up.</param>
    public PipeSerialOutput(Stream target, string? spillPath, TimeProvider time, int bufferBytes = DefaultBufferBytes, TimeSpan? spillAfter = null,
        TimeSpan? drainStall = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferBytes, 1);
        _target = target;
        _spillPath = spillPath;
        _time = time;
        _spillAfter = spillAfter ?? DefaultSpillAfter;
        _drainStall = drainStall ?? DefaultDrainStall;
        _ring = new byte[bufferBytes];
        if (spillPath is not null)
        {
            _spillTimer = time.CreateTimer(_ => OnSpillTimer(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "serial-out" };
        _writer.Start();
    }

    public event Action? Writable;

    public SerialOutputMetrics Metrics { get; } = new();

    /// <summary>Why the spill file could not be used (from then on the sink only holds the guest back), or null.</summary>
    public Exception? SpillError
    {
        get
        {
            lock (_gate)
            {
                return _spillError;
            }
        }
    }

    /// <summary>True while bytes go to the spill file.</summary>
    public bool IsSpilling
    {
        get
        {
            lock (_gate)
            {
                return _spilling;
            }
        }
    }

    public bool TryWrite(byte value)
    {
        lock (_gate)
        {
            if (_spilling && TryAppendSpill(value))
            {
                return true;
            }

            if (_count < _ring.Length && !_spilling)
            {
                _ring[(_head + _count) % _ring.Length] = value;
                _count++;
                Metrics.AddWritten(1);
                if (_count == 1)
                {
                    Monitor.PulseAll(_gate);
                }

                return true;
            }

            if (!_refused)
            {
                _refused = true;
                _spillTimer?.Change(_spillAfter, Timeout.InfiniteTimeSpan);
            }

            Metrics.AddRefused();
            return false;
        }
    }

    /// <summary>Waits up to <paramref name="timeout"/> for everything buffered and spilled to reach the target.</summary>
    public bool Flush(TimeSpan timeout)
    {
        // A real-time bound on a shutdown wait (the injected clock governs only the spill policy).
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (_count > 0 || _spillRead < _spillWritten || _inFlight)
            {
                if (_writeError is not null || Environment.TickCount64 >= deadline)
                {
                    return false;
                }

                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(10));
            }

            return true;
        }
    }

    /// <summary>
    /// Delivers everything still buffered or spilled (the guest has ended, its last output must still reach the
    /// reader, however slow), then stops the writer. Gives up only when the reader takes nothing for
    /// the drain-stall bound (default <see cref="DefaultDrainStall"/>: gone, or stalled for good) or the target failed.
    /// </summary>
    public void Dispose()
    {
        // Progress is counted per chunk written (up to 64 KiB), so "stalled" means no chunk completed in the bound.
        // Flush returns false at once after a write error, with nothing delivered since: that ends the loop too.
        long delivered = Metrics.BytesDelivered;
        while (!Flush(_drainStall))
        {
            long now = Metrics.BytesDelivered;
            if (now == delivered)
            {
                break;
            }

            delivered = now;
        }

        lock (_gate)
        {
            _disposing = true;
            Monitor.PulseAll(_gate);
        }

        _spillTimer?.Dispose();
        _writer.Join(TimeSpan.FromSeconds(2));
        _spill?.Dispose();
        _target.Dispose();
    }

    private void OnSpillTimer()
    {
        bool raise;
        lock (_gate)
        {
            raise = _refused && _count == _ring.Length && !_spilling && !_disposing && OpenSpill();
            if (raise)
            {
                _spilling = true;
                _refused = false;
            }
        }

        if (raise)
        {
            Writable?.Invoke();
        }
    }

    // Called under _gate. A spill file that cannot be created (a read-only folder, a jail) leaves the sink
    // holding the guest back instead: slower, never lossy, and never an exception on a timer or vCPU thread.
    private bool OpenSpill()
    {
        if (_spill is not null)
        {
            return true;
        }

        if (_spillError is not null)
        {
            return false;
        }

        try
        {
            _spill = new FileStream(_spillPath!, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, 64 * 1024);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _spillError = e;
            return false;
        }
    }

    // Called under _gate; false (the byte is refused) when the spill file fails, e.g. the disk is full.
    private bool TryAppendSpill(byte value)
    {
        if (_spillError is not null)
        {
            return false;
        }

        try
        {
            _spill!.Position = _spillWritten;
            _spill.WriteByte(value);
        }
        catch (IOException e)
        {
            _spillError = e;
            return false;
        }

        _spillWritten++;
        Metrics.AddWritten(1);
        Metrics.AddSpilled(1);
        Monitor.PulseAll(_gate);
        return true;
    }

    private void WriterLoop()
    {
        byte[] chunk = new byte[ChunkBytes];
        while (true)
        {
            int n;
            bool fromSpill;
            lock (_gate)
            {
                while (_count == 0 && _spillRead >= _spillWritten && !_disposing)
                {
                    Monitor.Wait(_gate);
                }

                if (_count == 0 && _spillRead >= _spillWritten)
                {
                    return;
                }

                if (_count > 0)
                {
                    n = Math.Min(_count, Math.Min(chunk.Length, _ring.Length - _head));
                    Array.Copy(_ring, _head, chunk, 0, n);
                    fromSpill = false;
                }
                else
                {
                    _spill!.Flush();
                    _spill.Position = _spillRead;
                    n = _spill.Read(chunk, 0, (int)Math.Min(chunk.Length, _spillWritten - _spillRead));
                    fromSpill = true;
                }

                _inFlight = true;
            }

            try
            {
                _target.Write(chunk, 0, n);
                _target.Flush();
            }
            catch (IOException e)
            {
                lock (_gate)
                {
                    _writeError = e;
                    _inFlight = false;
                    Monitor.PulseAll(_gate);
                }

                return;
            }

            bool raise;
            lock (_gate)
            {
                _inFlight = false;
                if (fromSpill)
                {
                    _spillRead += n;
                    if (_spillRead == _spillWritten)
                    {
                        // The spill file is drained: new bytes may use the ring again without reordering.
                        _spill!.SetLength(0);
                        _spillRead = _spillWritten = 0;
                        _spilling = false;
                    }
                }
                else
                {
                    _head = (_head + n) % _ring.Length;
                    _count -= n;
                }

                Metrics.AddDelivered(n);
                raise = _refused;
                _refused = false;
                Monitor.PulseAll(_gate);
            }

            if (raise)
            {
                _spillTimer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                Writable?.Invoke();
            }
        }
    }
}
