namespace Kindling.Vmm.Logging;

/// <summary>Counters of one serial sink (the <c>uart</c> section of the metrics line).</summary>
public sealed class SerialOutputMetrics
{
    private long _written;
    private long _delivered;
    private long _spilled;
    private long _refused;

    /// <summary>Bytes accepted from the UART.</summary>
    public long BytesWritten => Interlocked.Read(ref _written);

    /// <summary>Bytes that reached the target.</summary>
    public long BytesDelivered => Interlocked.Read(ref _delivered);

    /// <summary>Bytes that went through the spill file because the reader was too slow.</summary>
    public long BytesSpilled => Interlocked.Read(ref _spilled);

    /// <summary>TryWrite calls refused (back-pressure applied to the guest).</summary>
    public long WritesRefused => Interlocked.Read(ref _refused);

    internal void AddWritten(long n) => Interlocked.Add(ref _written, n);

    internal void AddDelivered(long n) => Interlocked.Add(ref _delivered, n);

    internal void AddSpilled(long n) => Interlocked.Add(ref _spilled, n);

    internal void AddRefused() => Interlocked.Increment(ref _refused);
}
